/** Exit codes of `backdoor-scan`. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** Interrupted by Ctrl-C (128 + SIGINT), the shell convention. */
export const EXIT_INTERRUPTED = 130;
