/* ld: where a data file (an intent pack file, a template file) is being
 * read, so that a loading error names the file and the line. */
#ifndef AUTOASSIST_LD_H
#define AUTOASSIST_LD_H

#include <stddef.h>
#include <stdio.h>

struct ld_pos {
	const char *file; /* the file's name as the error shows it */
	int line;         /* 1-based; 0 before the first line */
	char *err;        /* where the error sentence goes */
	size_t errlen;
};

/* Writes "file:line: " and the formatted message into p->err. Returns -1,
 * so a loader can `return ld_fail(...)`. */
int ld_fail(struct ld_pos *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads the next line of f into buf (cap bytes, without its newline) and
 * counts it in p->line. Returns 1 for a line, 0 at the end of the file, or
 * -1 (ld_fail) for a line longer than cap - 1 bytes or holding a NUL byte,
 * neither of which a data file has, or for a read error. */
int ld_gets(struct ld_pos *p, FILE *f, char *buf, size_t cap);

#endif
