/* ld: loading errors that name file and line. See include/ld.h. */
#include "ld.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

int ld_fail(struct ld_pos *p, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s:%d: %s", p->file, p->line, msg);
	return -1;
}

int ld_gets(struct ld_pos *p, FILE *f, char *buf, size_t cap)
{
	size_t n = 0;
	int ch;
	bool any = false;
	/* By byte, not fgets: fgets cannot tell a NUL byte from the line's
	 * end, and would cut a long line into two without a word. */
	while ((ch = getc(f)) != EOF) {
		if (!any)
			p->line++;
		any = true;
		if (ch == '\n')
			break;
		if (ch == '\0')
			return ld_fail(p, "a NUL byte at column %zu", n + 1);
		if (n + 1 >= cap)
			return ld_fail(p, "line longer than %zu bytes", cap - 1);
		buf[n++] = (char)ch;
	}
	buf[n] = '\0';
	if (ferror(f))
		return ld_fail(p, "cannot read the file");
	return any;
}
