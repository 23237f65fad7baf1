"""Yardstick H with the C reference library: Argon2id hashes per second on all cores.

libargon2 through argon2-cffi, one process per core so that nothing is shared; prints one number.
"""
import argparse
import multiprocessing
import time

from argon2.low_level import Type, hash_secret_raw


def worker(args):
    seconds, m, t, p = args
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        hash_secret_raw(b"correct horse battery", b"0123456789abcdef", t, m, p, 32, Type.ID)
        n += 1
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=multiprocessing.cpu_count())
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--memory-kib", type=int, default=19456)
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--parallelism", type=int, default=1)
    a = ap.parse_args()
    job = (a.seconds, a.memory_kib, a.iterations, a.parallelism)
    with multiprocessing.Pool(a.threads) as pool:
        counts = pool.map(worker, [job] * a.threads)
    print(sum(counts) / a.seconds)


if __name__ == "__main__":
    main()
