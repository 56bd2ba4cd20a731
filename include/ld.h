/* ld: where a data file (an intent pack file, a template file) is being
 * read, so that a loading error names the file and the line. */
#ifndef AUTOASSIST_LD_H
#define AUTOASSIST_LD_H

#include <stddef.h>

struct ld_pos {
	const char *file; /* the file's name as the error shows it */
	int line;         /* 1-based; 0 before the first line */
	char *err;        /* where the error sentence goes */
	size_t errlen;
};

/* Writes "file:line: " and the formatted message into p->err. Returns -1,
 * so a loader can `return ld_fail(...)`. */
int ld_fail(struct ld_pos *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
