/* Target parameters: the RFC 7143 section 13 keys a target offers and
 * sangw's own (queue_depth, nop_*, chap_algorithms), as one table that
 * parses, checks and dumps them. */
#include "config_internal.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util.h"

enum param_kind { PARAM_NUMBER, PARAM_BYTES, PARAM_YESNO, PARAM_DIGEST, PARAM_CHAP_ALGS };

struct param_desc {
	const char *key;
	enum param_kind kind;
	uint32_t min, max;
	size_t offset;                 /* into struct target_params */
};

#define TP(field) offsetof(struct target_params, field)

static const struct param_desc param_table[] = {
	/* RFC 7143 13.12-13.14: 512 to 2^24-1 bytes */
	{ "MaxRecvDataSegmentLength", PARAM_BYTES, 512, 16777215, TP(max_recv_data_segment_length) },
	{ "MaxBurstLength", PARAM_BYTES, 512, 16777215, TP(max_burst_length) },
	{ "FirstBurstLength", PARAM_BYTES, 512, 16777215, TP(first_burst_length) },
	{ "InitialR2T", PARAM_YESNO, 0, 1, TP(initial_r2t) },              /* 13.10 */
	{ "ImmediateData", PARAM_YESNO, 0, 1, TP(immediate_data) },        /* 13.11 */
	{ "MaxOutstandingR2T", PARAM_NUMBER, 1, 65535, TP(max_outstanding_r2t) }, /* 13.17 */
	{ "DefaultTime2Wait", PARAM_NUMBER, 0, 3600, TP(default_time2wait) },     /* 13.15 */
	{ "DefaultTime2Retain", PARAM_NUMBER, 0, 3600, TP(default_time2retain) }, /* 13.16 */
	{ "HeaderDigest", PARAM_DIGEST, 0, 1, TP(header_digest) },         /* 13.1 */
	{ "DataDigest", PARAM_DIGEST, 0, 1, TP(data_digest) },
	{ "queue_depth", PARAM_NUMBER, 1, 4096, TP(queue_depth) },
	{ "nop_interval", PARAM_NUMBER, 0, 3600, TP(nop_interval) },
	{ "nop_timeout", PARAM_NUMBER, 0, 3600, TP(nop_timeout) },
	/* RFC 7143 12.1.3: the CHAP_A values the target accepts */
	{ "chap_algorithms", PARAM_CHAP_ALGS, 1, CHAP_ALGS_ALL, TP(chap_algorithms) },
};

/* The names of the CHAP algorithms, weakest first (CHAP_A values 5-8). */
static const struct {
	const char *name;
	unsigned alg;
} chap_alg_names[] = {
	{ "md5", CHAP_ALG_MD5 },
	{ "sha1", CHAP_ALG_SHA1 },
	{ "sha256", CHAP_ALG_SHA256 },
	{ "sha3-256", CHAP_ALG_SHA3_256 },
};

#undef TP

const struct param_desc *cfg_param_find(const char *key, bool ignore_case)
{
	for (size_t i = 0; i < ARRAY_SIZE(param_table); i++)
		if (ignore_case ? strcasecmp(key, param_table[i].key) == 0
				: strcmp(key, param_table[i].key) == 0)
			return &param_table[i];
	return NULL;
}

static bool param_is_bool(const struct param_desc *d)
{
	return d->kind == PARAM_YESNO || d->kind == PARAM_DIGEST;
}

static uint32_t param_get(const struct target_params *p, const struct param_desc *d)
{
	const char *base = (const char *)p + d->offset;

	if (param_is_bool(d))
		return *(const bool *)base;
	return *(const uint32_t *)base;
}

static void param_put(struct target_params *p, const struct param_desc *d, uint32_t value)
{
	char *base = (char *)p + d->offset;

	if (param_is_bool(d))
		*(bool *)base = value != 0;
	else
		*(uint32_t *)base = value;
}

static int chap_alg_bit(const char *name, size_t len, uint32_t *bit)
{
	for (size_t i = 0; i < ARRAY_SIZE(chap_alg_names); i++) {
		if (strlen(chap_alg_names[i].name) == len &&
		    strncasecmp(name, chap_alg_names[i].name, len) == 0) {
			*bit = CHAP_ALG_BIT(chap_alg_names[i].alg);
			return 0;
		}
	}
	return -1;
}

/* An array of names (["sha256", "sha3-256"]) or, as gwcli sends it, one
 * string with the names separated by commas. */
int cfg_parse_chap_algorithms(json_object *v, const char *path, uint32_t *set, char *err,
			      size_t errlen)
{
	char buf[64];

	*set = 0;
	if (json_object_get_type(v) == json_type_array) {
		size_t n = json_object_array_length(v);

		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(v, i);
			const char *name = json_object_get_string(e);
			uint32_t bit;

			if (json_object_get_type(e) != json_type_string ||
			    chap_alg_bit(name, strlen(name), &bit) < 0)
				goto bad;
			*set |= bit;
		}
	} else if (json_object_get_type(v) == json_type_string) {
		const char *p = json_object_get_string(v);

		for (;;) {
			const char *comma = strchr(p, ',');
			size_t len = comma ? (size_t)(comma - p) : strlen(p);
			uint32_t bit;

			while (len && *p == ' ') {
				p++;
				len--;
			}
			while (len && p[len - 1] == ' ')
				len--;
			if (chap_alg_bit(p, len, &bit) < 0)
				goto bad;
			*set |= bit;
			if (!comma)
				break;
			p = comma + 1;
		}
	} else {
		goto bad;
	}
	if (*set)
		return 0;
bad:
	return cfg_failf(-EINVAL, err, errlen, path,
			 "%s is not a non-empty list of CHAP algorithms (\"md5\", \"sha1\", \"sha256\", "
			 "\"sha3-256\")", cfg_json_brief(v, buf, sizeof(buf)));
}

json_object *cfg_dump_chap_algorithms(uint32_t set)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < ARRAY_SIZE(chap_alg_names); i++)
		if (set & CHAP_ALG_BIT(chap_alg_names[i].alg))
			json_object_array_add(a, json_object_new_string(chap_alg_names[i].name));
	return a;
}

void cfg_format_chap_algorithms(uint32_t set, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(chap_alg_names) && used < len; i++)
		if (set & CHAP_ALG_BIT(chap_alg_names[i].alg))
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? "," : "",
						 chap_alg_names[i].name);
}

/* JSON booleans, or the RFC's own spellings: Yes/No, CRC32C/None. */
int cfg_param_value(const struct param_desc *d, json_object *v, const char *path,
		    struct target_params *p, char *err, size_t errlen)
{
	char buf[64];
	uint64_t value;
	uint32_t set;
	bool flag;
	int r;

	switch (d->kind) {
	case PARAM_CHAP_ALGS:
		if ((r = cfg_parse_chap_algorithms(v, path, &set, err, errlen)) < 0)
			return r;
		param_put(p, d, set);
		return 0;
	case PARAM_DIGEST:
		if (json_object_get_type(v) == json_type_string) {
			const char *s = json_object_get_string(v);

			if (strcasecmp(s, "CRC32C") == 0 || strcasecmp(s, "None") == 0) {
				param_put(p, d, strcasecmp(s, "CRC32C") == 0);
				return 0;
			}
		}
		/* fall through */
	case PARAM_YESNO:
		if ((r = cfg_get_bool_ex(v, path, true, &flag, err, errlen)) < 0)
			return cfg_failf(r, err, errlen, path, "%s is not %s", cfg_json_brief(v, buf, sizeof(buf)),
					 d->kind == PARAM_DIGEST ? "true/false or \"CRC32C\"/\"None\""
							     : "true/false or \"Yes\"/\"No\"");
		param_put(p, d, flag);
		return 0;
	case PARAM_BYTES:
		if ((r = cfg_get_size(v, path, &value, err, errlen)) < 0)
			return r;
		if (value < d->min || value > d->max)
			return cfg_failf(-ERANGE, err, errlen, path, "%llu is out of range (%u to %u)",
					 (unsigned long long)value, d->min, d->max);
		param_put(p, d, (uint32_t)value);
		return 0;
	case PARAM_NUMBER:
		if ((r = cfg_get_uint(v, path, d->min, d->max, &value, err, errlen)) < 0)
			return r;
		param_put(p, d, (uint32_t)value);
		return 0;
	}
	return -EINVAL;
}

int cfg_params_check(const struct target_params *p, const char *path, char *err, size_t errlen)
{
	char q[JPATH_MAX];

	if (p->first_burst_length > p->max_burst_length) {
		cfg_path_key(q, path, "FirstBurstLength");
		return cfg_failf(-EINVAL, err, errlen, q, "%u exceeds MaxBurstLength %u (RFC 7143 13.14)",
				 p->first_burst_length, p->max_burst_length);
	}
	if (p->nop_interval && !p->nop_timeout) {
		cfg_path_key(q, path, "nop_timeout");
		return cfg_failf(-EINVAL, err, errlen, q, "must be at least 1 when nop_interval is set");
	}
	return 0;
}

/* Override the params in *p with the keys of object v. */
int cfg_parse_params(json_object *v, const char *path, struct target_params *p,
		     char *err, size_t errlen)
{
	int r;

	if ((r = cfg_want_object(v, path, err, errlen)) < 0)
		return r;
	json_object_object_foreach(v, key, val) {
		const struct param_desc *d = cfg_param_find(key, false);
		char q[JPATH_MAX], list[512] = "";
		size_t used = 0;

		cfg_path_key(q, path, key);
		if (!d) {
			for (size_t i = 0; i < ARRAY_SIZE(param_table) && used < sizeof(list); i++)
				used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
							 i ? ", " : "", param_table[i].key);
			return cfg_failf(-EINVAL, err, errlen, q, "unknown parameter (expected one of: %s)", list);
		}
		if ((r = cfg_param_value(d, val, q, p, err, errlen)) < 0)
			return r;
	}
	return cfg_params_check(p, path, err, errlen);
}

json_object *cfg_dump_params(const struct target_params *p, bool only_changed)
{
	struct target_params defaults;
	json_object *o = json_object_new_object();

	target_params_defaults(&defaults);
	for (size_t i = 0; i < ARRAY_SIZE(param_table); i++) {
		const struct param_desc *d = &param_table[i];
		uint32_t value = param_get(p, d);

		if (only_changed && value == param_get(&defaults, d))
			continue;
		if (d->kind == PARAM_CHAP_ALGS)
			json_object_object_add(o, d->key, cfg_dump_chap_algorithms(value));
		else
			json_object_object_add(o, d->key, param_is_bool(d) ? json_object_new_boolean(value != 0)
									   : json_object_new_int64(value));
	}
	return o;
}

const struct param_desc *cfg_param_at(size_t i)
{
	return i < ARRAY_SIZE(param_table) ? &param_table[i] : NULL;
}

const char *cfg_param_key(const struct param_desc *d)
{
	return d->key;
}

bool cfg_param_equal(const struct target_params *a, const struct target_params *b,
		     const struct param_desc *d)
{
	return param_get(a, d) == param_get(b, d);
}

void cfg_param_copy(struct target_params *to, const struct target_params *from,
		    const struct param_desc *d)
{
	param_put(to, d, param_get(from, d));
}

/* As the document writes it: a number, true/false, or CHAP algorithm
 * names separated by commas. */
void cfg_param_format(const struct target_params *p, const struct param_desc *d, char *buf,
		      size_t len)
{
	uint32_t value = param_get(p, d);

	if (d->kind == PARAM_CHAP_ALGS)
		cfg_format_chap_algorithms(value, buf, len);
	else if (param_is_bool(d))
		snprintf(buf, len, "%s", value ? "true" : "false");
	else
		snprintf(buf, len, "%u", value);
}
