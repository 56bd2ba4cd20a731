/* l2cli: the technicians' and operators' commands on the L2 queue and the
 * grid registry in Redis (layout: docs/redis.md):
 *
 *   autoassist l2 pull --consumer NAME [--count N] [--block MS] [--json]
 *   autoassist l2 ack ID...
 *   autoassist l2 pending [--json]
 *   autoassist l2 claim --consumer NAME --idle MS [--count N] [--json]
 *   autoassist l2 stats [--json]
 *   autoassist registry load FILE.jsonl
 *   autoassist registry get METER_ID [--json]
 *
 * Every subcommand takes --help, and --redis URL and --stream NAME to
 * override what the environment says. Every Redis call is bounded by the
 * connection's timeout, so no command waits forever. */
#ifndef AUTOASSIST_L2CLI_H
#define AUTOASSIST_L2CLI_H

#include <stdio.h>

#include "engine.h"

#define L2CLI_MAX_DELIVERIES 5 /* deliveries before a ticket is a dead letter */
#define L2CLI_TIMEOUT 5.0      /* seconds, for connecting and each command */

/* Exit codes of l2cli_run. */
enum {
	L2CLI_OK = 0,
	L2CLI_FAILED = 1,      /* e.g. ticket not pending, record not found, Redis error */
	L2CLI_USAGE = 2,
	L2CLI_UNREACHABLE = 4, /* Redis could not be reached, or stopped answering */
};

/* What the caller (main) knows before the subcommand's options: the
 * defaults from its own options and the environment. */
struct l2cli_env {
	const char *redis_url;        /* redis://host:port, unix:///path, /path or
				       * host:port; NULL: 127.0.0.1:6379 */
	const char *redis_user;       /* for AUTH, from the environment; NULL: none */
	const char *redis_password;
	const char *stream;           /* the L2 stream; NULL: autoassist:l2 */
	const char *max_deliveries;   /* AUTOASSIST_MAX_DELIVERIES as set, read
				       * by the commands that use it; NULL or
				       * "": L2CLI_MAX_DELIVERIES */
	const struct engine *engine;  /* street words for registry address keys;
				       * needed by "registry load" only */
	double timeout;               /* seconds; <= 0: L2CLI_TIMEOUT */
};

/* Runs one command. argv[0] is "l2" or "registry", argv[1] the subcommand,
 * then its options and arguments (argv is permuted by getopt_long). Prints
 * results on stdout and diagnostics on stderr. Returns an exit code:
 * L2CLI_OK, L2CLI_FAILED, L2CLI_USAGE or L2CLI_UNREACHABLE. */
int l2cli_run(int argc, char **argv, const struct l2cli_env *env);

/* Writes the summary of the l2 and registry commands, for the program's
 * --help. */
void l2cli_usage(FILE *out);

#endif
