/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The floor for any preload: a library with one empty constructor. Loading it costs what loading
 * a library costs (open, mmap, relocate, run the constructor); the shim can only add to that.
 */
__attribute__((constructor)) static void bench_empty_init(void)
{
}
