/* registry: the grid registry from a JSON Lines file. See include/registry.h. */
#include "registry.h"
#include "tok.h"
#include "report.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A record under a key: its meter ID, or its address key made once at
 * load. Indexes are sorted by key, then file order, so a lookup is a
 * binary search that finds the first record in the file. */
struct keyed {
	const char *key;
	size_t rec;
};

struct reg_file {
	struct engine_record *recs;
	int *lines;               /* the file line of each record, for errors */
	size_t n, cap;
	struct keyed *by_meter;   /* every record; keys point into recs */
	struct keyed *by_address; /* records whose address has a key; keys owned */
	size_t naddress;
	struct keyed *by_city;    /* records whose city has a key; keys owned */
	size_t ncity;
};

static const char *str_field(json_object *o, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Copies s into out (cap bytes) when it fits whole. */
static bool fits(char *out, size_t cap, const char *s)
{
	size_t n = strlen(s);
	if (n >= cap)
		return false;
	memcpy(out, s, n + 1);
	return true;
}

int reg_meter_compact(const char *s, char *out, size_t cap)
{
	size_t n = 0;
	for (; *s; s++) {
		if (*s == ' ' || *s == '-')
			continue;
		if ((unsigned char)*s < 0x20 || *s == 0x7f || n + 1 >= cap)
			return -1;
		out[n++] = (char)(*s >= 'a' && *s <= 'z' ? *s - 32 : *s);
	}
	out[n] = '\0';
	return n ? 0 : -1;
}

static int parse_line(json_tokener *tok, struct engine_record *rec, const char *line,
		      size_t len, char *why, size_t whylen)
{
	int rc = -1;
	const char *bad;
	json_object *o = NULL;
	/* json-c takes any bytes in a string; a Latin-1 export would store
	 * addresses no customer's words match, and no reply may carry them. */
	if (!tok_utf8_valid(line, len)) {
		snprintf(why, whylen, "not valid UTF-8 (save the file as UTF-8)");
		goto put_obj;
	}
	o = report_parse_object_tok(tok, line, len, &bad, NULL);
	if (!o) {
		snprintf(why, whylen, "%s", bad);
		goto put_obj;
	}
	const char *meter = str_field(o, "meter_id"), *addr = str_field(o, "address");
	const char *pc = str_field(o, "postcode"), *city = str_field(o, "city");
	const char *start = str_field(o, "supply_start");
	if (!meter || !addr || !start) {
		snprintf(why, whylen, "meter_id, address and supply_start are required strings");
		goto put_obj;
	}
	memset(rec, 0, sizeof(*rec));
	/* Cut short, two addresses could become one. */
	if (!fits(rec->street, sizeof(rec->street), addr) ||
	    !fits(rec->postcode, sizeof(rec->postcode), pc ? pc : "") ||
	    !fits(rec->city, sizeof(rec->city), city ? city : "")) {
		snprintf(why, whylen, "address, postcode or city is over %zu, %zu or %zu bytes",
			 sizeof(rec->street) - 1, sizeof(rec->postcode) - 1, sizeof(rec->city) - 1);
		goto put_obj;
	}
	if (reg_meter_compact(meter, rec->meter_id, sizeof(rec->meter_id)) < 0) {
		snprintf(why, whylen, "meter_id is empty, over %zu characters or has a control character",
			 sizeof(rec->meter_id) - 1);
		goto put_obj;
	}
	if (slot_date_parse_iso(start, &rec->supply_start) < 0) {
		snprintf(why, whylen, "supply_start is not a YYYY-MM-DD date");
		goto put_obj;
	}
	rc = 0;
put_obj:
	json_object_put(o);
	return rc;
}

static int by_key(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : (x->rec > y->rec) - (x->rec < y->rec);
}

/* Makes the indexes, once every record is read. Returns 0 or -1 (out of
 * memory). */
static int index_records(struct reg_file *r, const struct engine *e)
{
	if (!r->n)
		return 0;
	r->by_meter = calloc(r->n, sizeof(*r->by_meter));
	r->by_address = calloc(r->n, sizeof(*r->by_address));
	r->by_city = calloc(r->n, sizeof(*r->by_city));
	if (!r->by_meter || !r->by_address || !r->by_city)
		return -1;
	for (size_t i = 0; i < r->n; i++) {
		r->by_meter[i] = (struct keyed){ r->recs[i].meter_id, i };
		char c[ENGINE_CITY_KEY_MAX];
		if (engine_city_key(r->recs[i].city, c, sizeof(c)) >= 0) {
			if (!(r->by_city[r->ncity].key = strdup(c)))
				return -1;
			r->by_city[r->ncity++].rec = i;
		}
		char k[SLOT_ADDR_MAX * 2];
		const char *street = r->recs[i].street;
		/* An address without a key never matches (as in
		 * engine_address_matches): it stays out of the index. */
		if (slot_address_key(engine_slots(e), street, strlen(street), k, sizeof(k)) < 0)
			continue;
		if (!(r->by_address[r->naddress].key = strdup(k)))
			return -1;
		r->by_address[r->naddress++].rec = i;
	}
	qsort(r->by_meter, r->n, sizeof(*r->by_meter), by_key);
	qsort(r->by_address, r->naddress, sizeof(*r->by_address), by_key);
	qsort(r->by_city, r->ncity, sizeof(*r->by_city), by_key);
	return 0;
}

/* Where key k starts in ix (n entries): the first entry with it, or the
 * one after where it would be. */
static size_t lower_bound(const struct keyed *ix, size_t n, const char *k)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(ix[mid].key, k) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct reg_file *reg_file_load(const char *path, const struct engine *e, char *err,
			       size_t errlen)
{
	char *line = NULL;
	size_t linecap = 0;
	int lineno = 0;
	struct reg_file *r = calloc(1, sizeof(*r)), *loaded = NULL;
	json_tokener *tok = report_tokener_new(REPORT_MAX_DEPTH);
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto free_reg;
	}
	if (!r || !tok) {
		snprintf(err, errlen, "out of memory");
		goto close_file;
	}
	for (ssize_t n; (n = getline(&line, &linecap, f)) > 0;) {
		lineno++;
		/* Spreadsheets save "UTF-8" with a byte order mark first. */
		if (lineno == 1 && n >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
			memmove(line, line + 3, (size_t)n - 2);
			n -= 3;
		}
		/* By its length: a line starting with a NUL is no blank one. */
		if (strspn(line, " \t\r\n") == (size_t)n)
			continue;
		if (r->n == r->cap) {
			size_t nc = r->cap ? r->cap * 2 : 64;
			struct engine_record *nr = realloc(r->recs, nc * sizeof(*nr));
			if (nr)
				r->recs = nr;
			int *nl = nr ? realloc(r->lines, nc * sizeof(*nl)) : NULL;
			if (!nl) {
				snprintf(err, errlen, "out of memory");
				goto close_file;
			}
			r->lines = nl;
			r->cap = nc;
		}
		char why[128];
		if (parse_line(tok, &r->recs[r->n], line, (size_t)n, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			goto close_file;
		}
		r->lines[r->n++] = lineno;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto close_file;
	}
	if (index_records(r, e) < 0) {
		snprintf(err, errlen, "out of memory");
		goto close_file;
	}
	/* A meter listed twice has no one answer: the file's lookup would take
	 * the first, Redis (registry load) the last. */
	for (size_t i = 1; i < r->n; i++)
		if (strcmp(r->by_meter[i - 1].key, r->by_meter[i].key) == 0) {
			snprintf(err, errlen, "%s:%d: meter %s is listed already (line %d)", path,
				 r->lines[r->by_meter[i].rec], r->by_meter[i].key,
				 r->lines[r->by_meter[i - 1].rec]);
			goto close_file;
		}
	loaded = r;
	r = NULL;
close_file:
	fclose(f);
free_reg:
	free(line);
	if (tok)
		json_tokener_free(tok);
	reg_file_free(r);
	return loaded;
}

void reg_file_free(struct reg_file *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->naddress; i++)
		free((char *)r->by_address[i].key);
	free(r->by_address);
	for (size_t i = 0; i < r->ncity; i++)
		free((char *)r->by_city[i].key);
	free(r->by_city);
	free(r->by_meter);
	free(r->lines);
	free(r->recs);
	free(r);
}

size_t reg_file_count(const struct reg_file *r)
{
	return r ? r->n : 0;
}

const struct engine_record *reg_file_at(const struct reg_file *r, size_t i)
{
	return r && i < r->n ? &r->recs[i] : NULL;
}

bool reg_file_has(const struct reg_file *r, const char *meter_id)
{
	size_t i = lower_bound(r->by_meter, r->n, meter_id);
	return i < r->n && strcmp(r->by_meter[i].key, meter_id) == 0;
}

/* True when some record is in city (case and accents aside). */
static bool lists_city(const struct reg_file *r, const char *city)
{
	char k[ENGINE_CITY_KEY_MAX];
	if (engine_city_key(city, k, sizeof(k)) < 0)
		return false;
	size_t i = lower_bound(r->by_city, r->ncity, k);
	return i < r->ncity && strcmp(r->by_city[i].key, k) == 0;
}

void reg_file_lookup(const struct reg_file *r, const struct engine *e,
		     const struct engine_plan *plan, struct engine_results *res)
{
	res->registry = ENGINE_REG_NOT_ASKED;
	res->city_listed = false;
	if (plan->lookup == ENGINE_LOOKUP_NONE)
		return;
	if (!r) {
		res->registry = ENGINE_REG_UNAVAILABLE;
		return;
	}
	res->registry = ENGINE_REG_NOT_FOUND;
	const struct slot_address *a = &plan->facts.address;
	res->city_listed = plan->facts.has_address && !a->postcode[0] && lists_city(r, a->city);
	if (plan->lookup == ENGINE_LOOKUP_METER) {
		const char *k = plan->facts.meter.id;
		size_t i = lower_bound(r->by_meter, r->n, k);
		if (i < r->n && strcmp(r->by_meter[i].key, k) == 0) {
			res->registry = ENGINE_REG_FOUND;
			res->record = r->recs[r->by_meter[i].rec];
		}
		return;
	}
	/* The records whose key is the address's, in file order, as
	 * engine_street decides (engine_address_matches, with the records'
	 * keys made at load). */
	const char *street = engine_address_street(a);
	char k[SLOT_ADDR_MAX * 2];
	struct engine_street st;
	if (slot_address_key(engine_slots(e), street, strlen(street), k, sizeof(k)) < 0)
		return;
	engine_street_init(&st, a->postcode, engine_listed_city(a, res));
	for (size_t i = lower_bound(r->by_address, r->naddress, k);
	     i < r->naddress && strcmp(r->by_address[i].key, k) == 0; i++)
		if (engine_street_add(&st, &r->recs[r->by_address[i].rec]))
			break;
	res->registry = (uint8_t)engine_street_answer(&st, &res->record);
}
