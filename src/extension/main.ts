// Entry point: implementation in progress.
export {};
