/* registry: the grid registry read from a JSON Lines file, for the CLI
 * harness, tests, a server without Redis, and loading into Redis. Each
 * line is one supply point:
 *   {"meter_id": "707057500012345675", "address": "Storgata 12B",
 *    "postcode": "0155", "city": "Oslo", "supply_start": "2027-03-01"}
 * A server with Redis asks Redis; both fill the same engine_results. */
#ifndef AUTOASSIST_REGISTRY_H
#define AUTOASSIST_REGISTRY_H

#include <stddef.h>

#include "engine.h"

struct reg_file;

/* Reads the registry file and indexes it by meter ID and by address, the
 * addresses by the keys of e's street words (slot_address_key), so a
 * lookup costs a binary search.
 * Lookups must use the same engine. A meter listed twice, or a meter ID
 * that is empty, too long or holds a control character, is refused: two
 * IDs must not become one. Returns the registry (free with reg_file_free)
 * or NULL with a sentence naming the line in err. */
struct reg_file *reg_file_load(const char *path, const struct engine *e, char *err,
			       size_t errlen);
void reg_file_free(struct reg_file *r);

/* Writes meter ID s as registry keys and slots hold it into out (cap
 * bytes): without spaces or hyphens ("7070-5750-..." as customers and
 * exports write it), in upper case. Returns 0, or -1 when the ID is empty,
 * does not fit in cap, or holds a control character: cut short or empty,
 * two IDs could become one. */
int reg_meter_compact(const char *s, char *out, size_t cap);

size_t reg_file_count(const struct reg_file *r);

/* Record i (0 <= i < reg_file_count) in file order, for copying the file
 * into Redis (autoassist registry load). */
const struct engine_record *reg_file_at(const struct reg_file *r, size_t i);

/* True when the file lists the meter. */
bool reg_file_has(const struct reg_file *r, const char *meter_id);

/* Carries out the plan's lookup: fills res->registry and res->record with
 * the record of the meter ID, or with what engine_street makes of the
 * records at the address (in file order, keyed as engine_address_matches
 * has it). A NULL registry answers ENGINE_REG_UNAVAILABLE, as a registry
 * that cannot be reached does. e is the engine the registry was loaded
 * with. */
void reg_file_lookup(const struct reg_file *r, const struct engine *e,
		     const struct engine_plan *plan, struct engine_results *res);

#endif
