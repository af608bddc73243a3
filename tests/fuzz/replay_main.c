/*
 * replay_main.c - runs a libFuzzer target over files, without libFuzzer.
 *
 * `make check` links every fuzz target with this main and replays its seed
 * corpus and every crash input ever found (tests/fuzz/crashes), so that a
 * fixed crash stays fixed in the ordinary (and sanitizer) build.
 * Arguments are files or directories (read one level deep).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
replay_file(const char *path)
{
	FILE	*f;
	uint8_t	*data;
	long	 n;
	size_t	 got;

	if ((f = fopen(path, "rb")) == NULL) {
		perror(path);
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return -1;
	}
	if ((data = malloc((size_t)n + 1)) == NULL) {
		fclose(f);
		return -1;
	}
	got = fread(data, 1, (size_t)n, f);
	fclose(f);
	LLVMFuzzerTestOneInput(data, got);
	free(data);
	return 0;
}

int
main(int argc, char **argv)
{
	struct stat	 st;
	struct dirent	*de;
	DIR		*d;
	char		 path[4096];
	int		 i, count = 0, rc = 0;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1)
			continue;	/* an absent crash folder is fine */
		if (!S_ISDIR(st.st_mode)) {
			rc |= replay_file(argv[i]);
			count++;
			continue;
		}
		if ((d = opendir(argv[i])) == NULL) {
			perror(argv[i]);
			return 1;
		}
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i],
			    de->d_name);
			rc |= replay_file(path);
			count++;
		}
		closedir(d);
	}
	printf("%s: replayed %d inputs\n", argv[0], count);
	return rc ? 1 : 0;
}
