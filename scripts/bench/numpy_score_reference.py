#!/usr/bin/python3
"""NumPy reference for the score bench: the same formulas as src/core (method.md), image-text mode, batch-local
references, one GEMM per batch (R·Rᵀ, float32 BLAS) and partial selection via np.argpartition/np.partition.
Detectors: kdist, lid, slof, dao, clip. Prints one JSON line: {"seconds": wall, "cpuSeconds": CPU over all threads, "rows": N}.
Usage: numpy_score_reference.py IMAGES.npy TEXTS.npy [--batch-size 2048] [--k 16] [--lid-k 64] [--seed 0]
"""
import argparse
import json
import time

import numpy as np


def lid_of(sorted_dists, k):
    with np.errstate(divide='ignore', invalid='ignore'):
        return -k / np.sum(np.log(sorted_dists[:, :k] / sorted_dists[:, k:k + 1] + 1e-4), axis=1)


def score_batch(v, t, k, lid_k):
    n = v.shape[0]
    refs = np.concatenate([v, t])
    sq = np.einsum('ij,ij->i', refs, refs)
    d2 = refs @ refs.T  # the one GEMM of the batch
    d2 *= -2
    d2 += sq[:, None]
    d2 += sq[None, :]
    np.maximum(d2, 0, out=d2)
    np.sqrt(d2, out=d2)
    dist = d2
    np.fill_diagonal(dist, 0)
    # Reference rows: k+1 smallest including the row itself.
    ref_part = np.sort(np.partition(dist, k, axis=1)[:, :k + 1], axis=1)
    kd_f = ref_part[:, k]
    lid_f = lid_of(ref_part, k)
    # Query rows: own image and own caption removed by index.
    q = dist[:n].copy()
    rows = np.arange(n)
    q[rows, rows] = np.inf
    q[rows, n + rows] = np.inf
    need = max(k, lid_k) + 1
    idx = np.argpartition(q, need - 1, axis=1)[:, :need]
    vals = np.take_along_axis(q, idx, axis=1)
    order = np.argsort(vals, axis=1)
    a = np.take_along_axis(vals, order, axis=1)
    nn = np.take_along_axis(idx, order, axis=1)[:, :k]
    kdist = a[:, k]
    lid = lid_of(a, lid_k)
    with np.errstate(divide='ignore', invalid='ignore'):
        slof = np.nan_to_num(np.mean(kdist[:, None] / kd_f[nn], axis=1), nan=1000, posinf=1000, neginf=0)
        dao = np.nan_to_num(np.mean(lid_f[nn] * np.log(kdist[:, None] / kd_f[nn]), axis=1), nan=1000, posinf=1000, neginf=0)
    return kdist, lid, slof, dao


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('images')
    parser.add_argument('texts')
    parser.add_argument('--batch-size', type=int, default=2048)
    parser.add_argument('--k', type=int, default=16)
    parser.add_argument('--lid-k', type=int, default=64)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    images = np.load(args.images).astype(np.float32, copy=False)
    texts = np.load(args.texts).astype(np.float32, copy=False)
    start = time.perf_counter()
    cpu_start = time.process_time()
    n = images.shape[0]
    perm = np.random.default_rng(args.seed).permutation(n)
    b = args.batch_size or n
    scores = np.empty((4, n))
    for s in range(0, n, b):
        rows = perm[s:s + b]
        scores[:, rows] = score_batch(images[rows], texts[rows], args.k, args.lid_k)
    iv = images.astype(np.float64)
    tv = texts.astype(np.float64)
    _clip = np.einsum('ij,ij->i', iv, tv) / (np.linalg.norm(iv, axis=1) * np.linalg.norm(tv, axis=1))
    print(json.dumps({'seconds': time.perf_counter() - start, 'cpuSeconds': time.process_time() - cpu_start, 'rows': n}))


if __name__ == '__main__':
    main()
