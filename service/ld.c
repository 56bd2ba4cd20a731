/* ld: loading errors that name file and line. See include/ld.h. */
#include "ld.h"

#include <stdarg.h>
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
