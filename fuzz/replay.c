/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A main() for a fuzz target without libFuzzer: run each file named on the command line through
 * LLVMFuzzerTestOneInput once. scripts/test-sanitizers builds fuzz-config with it, uninstrumented,
 * and replays the corpus under valgrind: libconfuse is not built with ASan, so memcheck is what
 * sees its reads and leaks on the inputs the fuzzer found.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	unsigned done = 0;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rbe");
		uint8_t *buf;
		long size;

		if (!f) {
			perror(argv[i]);
			return 1;
		}
		if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 ||
		    fseek(f, 0, SEEK_SET) < 0) {
			perror(argv[i]);
			fclose(f);
			return 1;
		}
		buf = malloc((size_t)size + 1);
		if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
			perror(argv[i]);
			free(buf);
			fclose(f);
			return 1;
		}
		fclose(f);
		LLVMFuzzerTestOneInput(buf, (size_t)size);
		free(buf);
		done++;
	}
	printf("replayed %u inputs\n", done);
	return 0;
}
