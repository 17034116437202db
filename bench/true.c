/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The tiny program whose start-up is measured: all it costs is exec, ld.so and the preloads. */
int main(void)
{
	return 0;
}
