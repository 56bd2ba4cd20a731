/* testutil: helpers the cmocka test files share. Include after cmocka.h;
 * every function is static inline, so a test file that does not use one
 * pays nothing for it. */
#ifndef AUTOASSIST_TESTUTIL_H
#define AUTOASSIST_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Decodes a fixture line's \xHH and \n escapes in place; returns the
 * length. */
static inline size_t tu_unescape(char *s)
{
	size_t o = 0;
	for (size_t i = 0; s[i]; i++) {
		if (s[i] == '\\' && s[i + 1] == 'x' && s[i + 2] && s[i + 3]) {
			char hex[3] = { s[i + 2], s[i + 3], 0 };
			s[o++] = (char)strtol(hex, NULL, 16);
			i += 3;
		} else if (s[i] == '\\' && s[i + 1] == 'n') {
			s[o++] = '\n';
			i++;
		} else {
			s[o++] = s[i];
		}
	}
	s[o] = '\0';
	return o;
}

struct tu_file {
	const char *name, *text;
};

/* Writes the files into a new temporary directory, made from dir (a
 * mkdtemp template ending in XXXXXX, which it is overwritten with). */
static inline void tu_write_dir(char *dir, const struct tu_file *files, size_t n)
{
	assert_non_null(mkdtemp(dir));
	char path[256];
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
		FILE *out = fopen(path, "w");
		assert_non_null(out);
		fputs(files[i].text, out);
		fclose(out);
	}
}

/* Removes what tu_write_dir wrote. */
static inline void tu_remove_dir(const char *dir, const struct tu_file *files, size_t n)
{
	char path[256];
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
		unlink(path);
	}
	rmdir(dir);
}

#endif
