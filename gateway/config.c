/* Declarative configuration: parse and validate the JSON document, build
 * and diff the model, write it back, and apply management requests that
 * arrive as SOP_CONFIG operations (config.h explains the flow). The
 * document reference is docs/configuration.md; the requests are described
 * in docs/management-api.md. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scsi/alua.h"
#include "event_loop.h"
#include "log.h"
#include "scsi/sense.h"
#include "shared_state.h"
#include "scsi/ua.h"
#include "util.h"

#define JPATH_MAX        256     /* "targets[3].acls[12].lun_map[4].lun" */
#define DEFAULT_BLOCK    512
#define REAP_POLL_MS     100     /* how often a removed target/ACL checks its sessions */

/* ------------------------------------------------------------------------
 * Errors name the JSON path of the offending field.
 * ---------------------------------------------------------------------- */

__attribute__((format(printf, 5, 6)))
static int failf(int code, char *err, size_t errlen, const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (path && *path)
		snprintf(err, errlen, "%s: %s", path, msg);
	else
		snprintf(err, errlen, "%s", msg);
	return code;
}

/* Append to a JSON path (JPATH_MAX bytes); a path cut short by the
 * buffer still names the place well enough. */
static void path_append(char *out, const char *text)
{
	size_t used = strnlen(out, JPATH_MAX - 1);

	str_copy(out + used, text, JPATH_MAX - used);
}

static void path_key(char *out, const char *parent, const char *key)
{
	out[0] = '\0';
	if (parent && *parent) {
		path_append(out, parent);
		path_append(out, ".");
	}
	path_append(out, key);
}

static void path_index(char *out, const char *parent, unsigned index)
{
	char suffix[16];

	snprintf(suffix, sizeof(suffix), "[%u]", index);
	out[0] = '\0';
	path_append(out, parent);
	path_append(out, suffix);
}

/* A value as JSON text for messages, cut short when long. */
static const char *json_brief(json_object *v, char *buf, size_t len)
{
	const char *text = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE);

	if (strlen(text) + 1 > len && len > 4)
		snprintf(buf, len, "%.*s...", (int)(len - 4), text);
	else
		snprintf(buf, len, "%s", text);
	return buf;
}

static const char *json_type_text(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_boolean: return "a boolean";
	case json_type_double:  return "a fractional number";
	case json_type_int:     return "a number";
	case json_type_object:  return "an object";
	case json_type_array:   return "an array";
	case json_type_string:  return "a string";
	default:                return "null";
	}
}

/* The member key of obj; NULL when absent or JSON null. */
static json_object *member(json_object *obj, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

static bool key_in(const char *key, const char *const *list)
{
	for (; list && *list; list++)
		if (strcmp(key, *list) == 0)
			return true;
	return false;
}

/* Unknown keys are errors: a typo must not silently mean "default". */
static int check_keys(json_object *obj, const char *path, const char *const *allowed,
		      const char *const *also_allowed, char *err, size_t errlen)
{
	json_object_object_foreach(obj, key, val) {
		char p[JPATH_MAX], list[512] = "";
		size_t used = 0;

		(void)val;
		if (key_in(key, allowed) || key_in(key, also_allowed))
			continue;
		for (const char *const *k = allowed; k && *k && used < sizeof(list); k++)
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
						 used ? ", " : "", *k);
		path_key(p, path, key);
		return failf(-EINVAL, err, errlen, p, "unknown key (expected one of: %s)", list);
	}
	return 0;
}

static int want_object(json_object *v, const char *path, char *err, size_t errlen)
{
	if (json_object_get_type(v) != json_type_object)
		return failf(-EINVAL, err, errlen, path, "must be an object, not %s", json_type_text(v));
	return 0;
}

static int want_array(json_object *v, const char *path, char *err, size_t errlen)
{
	if (json_object_get_type(v) != json_type_array)
		return failf(-EINVAL, err, errlen, path, "must be an array, not %s", json_type_text(v));
	return 0;
}

/* A string of 1..size-1 bytes without control characters. */
static int get_string(json_object *v, const char *path, char *out, size_t size,
		      char *err, size_t errlen)
{
	const char *s;
	size_t len;

	if (json_object_get_type(v) != json_type_string)
		return failf(-EINVAL, err, errlen, path, "must be a string, not %s", json_type_text(v));
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (len == 0)
		return failf(-EINVAL, err, errlen, path, "must not be empty");
	if (len >= size)
		return failf(-EINVAL, err, errlen, path, "is longer than %zu bytes", size - 1);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return failf(-EINVAL, err, errlen, path, "contains a control character");
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

static bool word_is(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcasecmp(s, *words) == 0)
			return true;
	return false;
}

static const char *const true_words[] = { "true", "yes", "on", "1", NULL };
static const char *const false_words[] = { "false", "no", "off", "0", NULL };

/* A JSON boolean; with lenient_strings also "yes"/"no"/"on"/"off"/"1"/"0"
 * (gwcli passes every value as a string). */
static int get_bool_ex(json_object *v, const char *path, bool lenient_strings, bool *out,
		       char *err, size_t errlen)
{
	char buf[64];

	if (json_object_get_type(v) == json_type_boolean) {
		*out = json_object_get_boolean(v);
		return 0;
	}
	if (lenient_strings && json_object_get_type(v) == json_type_string) {
		const char *s = json_object_get_string(v);

		if (word_is(s, true_words) || word_is(s, false_words)) {
			*out = word_is(s, true_words);
			return 0;
		}
	}
	return failf(-EINVAL, err, errlen, path, "%s is not a boolean (true or false)",
		     json_brief(v, buf, sizeof(buf)));
}

static int get_bool(json_object *v, const char *path, bool *out, char *err, size_t errlen)
{
	return get_bool_ex(v, path, false, out, err, errlen);
}

/* A non-negative integer in [min, max]; decimal strings are accepted too. */
static int get_uint(json_object *v, const char *path, uint64_t min, uint64_t max,
		    uint64_t *out, char *err, size_t errlen)
{
	char buf[64];
	uint64_t value;

	if (json_object_get_type(v) == json_type_int) {
		if (json_object_get_int64(v) < 0)
			return failf(-EINVAL, err, errlen, path, "%s must not be negative",
				     json_brief(v, buf, sizeof(buf)));
		value = json_object_get_uint64(v);
	} else if (json_object_get_type(v) == json_type_string) {
		const char *s = json_object_get_string(v);
		char *end;

		errno = 0;
		value = strtoull(s, &end, 10);
		if (!isdigit((unsigned char)*s) || *end || errno)
			return failf(-EINVAL, err, errlen, path, "%s is not a number",
				     json_brief(v, buf, sizeof(buf)));
	} else {
		return failf(-EINVAL, err, errlen, path, "%s is not a number",
			     json_brief(v, buf, sizeof(buf)));
	}
	if (value < min || value > max)
		return failf(-ERANGE, err, errlen, path, "%llu is out of range (%llu to %llu)",
			     (unsigned long long)value, (unsigned long long)min,
			     (unsigned long long)max);
	*out = value;
	return 0;
}

/* Bytes: a number, or a string with a binary K/M/G/T suffix ("10G"). */
static int get_size(json_object *v, const char *path, uint64_t *out, char *err, size_t errlen)
{
	char buf[64];

	if (json_object_get_type(v) == json_type_int && json_object_get_int64(v) >= 0) {
		*out = json_object_get_uint64(v);
		return 0;
	}
	if (json_object_get_type(v) == json_type_string &&
	    parse_size(json_object_get_string(v), out) == 0)
		return 0;
	return failf(-EINVAL, err, errlen, path, "%s is not a size", json_brief(v, buf, sizeof(buf)));
}

/* "10G" when exact, else the plain number (as JSON). */
static json_object *size_to_json(uint64_t bytes)
{
	static const struct { char suffix; unsigned shift; } units[] = {
		{ 'T', 40 }, { 'G', 30 }, { 'M', 20 }, { 'K', 10 },
	};
	char buf[32];

	for (size_t i = 0; bytes && i < ARRAY_SIZE(units); i++) {
		if (bytes % (1ULL << units[i].shift) == 0) {
			snprintf(buf, sizeof(buf), "%llu%c",
				 (unsigned long long)(bytes >> units[i].shift), units[i].suffix);
			return json_object_new_string(buf);
		}
	}
	return json_object_new_uint64(bytes);
}

/* ------------------------------------------------------------------------
 * Names, portals, WWNs, CHAP credentials.
 * ---------------------------------------------------------------------- */

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* RFC 3722 (the stringprep profile of RFC 7143 4.2.7.2) leaves letters,
 * digits, '-', '.' and ':' of ASCII; upper case is folded to lower case,
 * so names are compared case-insensitively (as model.c does). */
static bool iscsi_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '.' || c == ':';
}

/* RFC 7143 4.2.7.3: "iqn." yyyy-mm "." reversed domain [":" anything]. */
static bool iqn_valid(const char *name, char *why, size_t whylen)
{
	const char *p = name + 4;
	int month;

	if (!(isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
	      isdigit((unsigned char)p[2]) && isdigit((unsigned char)p[3]) && p[4] == '-' &&
	      isdigit((unsigned char)p[5]) && isdigit((unsigned char)p[6]) && p[7] == '.')) {
		snprintf(why, whylen, "an iqn. name continues with a date yyyy-mm and a dot, "
			 "e.g. iqn.2024-01.com.example:disk1 (RFC 7143 4.2.7.3)");
		return false;
	}
	month = (p[5] - '0') * 10 + (p[6] - '0');
	if (month < 1 || month > 12) {
		snprintf(why, whylen, "month %.2s of the date is not 01 to 12", p + 5);
		return false;
	}
	p += 8;
	if (*p == '\0' || *p == ':' || *p == '.') {
		snprintf(why, whylen, "the reversed domain name after the date is missing");
		return false;
	}
	for (; *p; p++) {
		if (iscsi_name_char(*p))
			continue;
		snprintf(why, whylen, "contains '%c' (0x%02x): only letters, digits, '-', '.' and ':' "
			 "may appear (RFC 3722)", isprint((unsigned char)*p) ? *p : '?', (unsigned char)*p);
		return false;
	}
	return true;
}

bool config_iscsi_name_valid(const char *name, char *why, size_t whylen)
{
	size_t len = strlen(name);

	if (len == 0) {
		snprintf(why, whylen, "is empty");
		return false;
	}
	if (len > ISCSI_NAME_MAX - 1) {
		snprintf(why, whylen, "is %zu bytes long; iSCSI names have at most %d (RFC 7143 4.2.7.1)",
			 len, ISCSI_NAME_MAX - 1);
		return false;
	}
	if (strncmp(name, "iqn.", 4) == 0)
		return iqn_valid(name, why, whylen);
	if (strncmp(name, "eui.", 4) == 0) {
		/* RFC 7143 4.2.7.4: an EUI-64 as 16 hex digits */
		if (len == 4 + 16 && all_hex(name + 4, 16))
			return true;
		snprintf(why, whylen, "an eui. name is followed by exactly 16 hex digits (RFC 7143 4.2.7.4)");
		return false;
	}
	if (strncmp(name, "naa.", 4) == 0) {
		/* RFC 7143 4.2.7.5: a 64- or 128-bit NAA identifier in hex */
		if ((len == 4 + 16 || len == 4 + 32) && all_hex(name + 4, len - 4))
			return true;
		snprintf(why, whylen, "a naa. name is followed by 16 or 32 hex digits (RFC 7143 4.2.7.5)");
		return false;
	}
	snprintf(why, whylen, "must begin with \"iqn.\", \"eui.\" or \"naa.\" (RFC 7143 4.2.7)");
	return false;
}

static int check_name(const char *name, const char *path, char *err, size_t errlen)
{
	char why[256];

	if (config_iscsi_name_valid(name, why, sizeof(why)))
		return 0;
	return failf(-EINVAL, err, errlen, path, "\"%s\" is not a valid iSCSI name: %s", name, why);
}

int config_portal_parse(const char *text, char *addr, size_t addrlen, uint16_t *port,
			char *why, size_t whylen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_text = NULL, *end;
	unsigned char bin[sizeof(struct in6_addr)];
	int family;
	size_t hostlen;

	if (text[0] == '[') {
		end = strchr(text, ']');
		if (!end) {
			snprintf(why, whylen, "missing ']' after the IPv6 address");
			return -EINVAL;
		}
		hostlen = (size_t)(end - text - 1);
		if (hostlen == 0 || hostlen >= sizeof(host))
			goto bad_address;
		memcpy(host, text + 1, hostlen);
		host[hostlen] = '\0';
		if (end[1] == ':')
			port_text = end + 2;
		else if (end[1] != '\0')
			goto bad_port;
		family = AF_INET6;
	} else {
		end = strchr(text, ':');
		if (end && strchr(end + 1, ':')) {
			snprintf(why, whylen, "write IPv6 portals as [ADDRESS]:PORT");
			return -EINVAL;
		}
		hostlen = end ? (size_t)(end - text) : strlen(text);
		if (hostlen == 0 || hostlen >= sizeof(host))
			goto bad_address;
		memcpy(host, text, hostlen);
		host[hostlen] = '\0';
		if (end)
			port_text = end + 1;
		family = AF_INET;
	}
	if (inet_pton(family, host, bin) != 1)
		goto bad_address;
	*port = CONFIG_DEFAULT_PORT;
	if (port_text) {
		char *stop;
		unsigned long value;

		errno = 0;
		value = strtoul(port_text, &stop, 10);
		if (!isdigit((unsigned char)*port_text) || *stop || errno || value < 1 || value > 65535)
			goto bad_port;
		*port = (uint16_t)value;
	}
	if (!inet_ntop(family, bin, addr, (socklen_t)addrlen))
		goto bad_address;
	return 0;

bad_address:
	snprintf(why, whylen, "\"%s\" does not start with a numeric IPv4 address or a "
		 "bracketed IPv6 address (ADDRESS[:PORT])", text);
	return -EINVAL;
bad_port:
	snprintf(why, whylen, "\"%s\" has no valid port (1 to 65535) after the address", text);
	return -EINVAL;
}

void config_portal_format(const char *addr, uint16_t port, char *buf, size_t len)
{
	if (strchr(addr, ':'))
		snprintf(buf, len, "[%s]:%u", addr, port);
	else
		snprintf(buf, len, "%s:%u", addr, port);
}

static void size_text(uint64_t bytes, char *buf, size_t len)
{
	json_object *v = size_to_json(bytes);

	snprintf(buf, len, "%s", json_object_get_type(v) == json_type_string ?
		 json_object_get_string(v) : json_object_to_json_string(v));
	json_object_put(v);
}

void config_lu_spec_format(const struct lu_spec *spec, char *buf, size_t len)
{
	size_t used;
	char size[32];

	used = (size_t)snprintf(buf, len, "%s", spec->backstore);
	if (spec->path[0] && used < len)
		used += (size_t)snprintf(buf + used, len - used, ":%s", spec->path);
	if (spec->size && used < len) {
		size_text(spec->size, size, sizeof(size));
		used += (size_t)snprintf(buf + used, len - used, ",size=%s", size);
	}
	if (spec->thin && used < len)
		used += (size_t)snprintf(buf + used, len - used, ",thin=1");
	if (spec->removable && used < len)
		used += (size_t)snprintf(buf + used, len - used, ",removable=1");
	if (spec->readonly && used < len)
		used += (size_t)snprintf(buf + used, len - used, ",readonly=1");
	if (spec->wwn[0] && used < len)
		used += (size_t)snprintf(buf + used, len - used, ",wwn=%s", spec->wwn);
	if (spec->block_size && spec->block_size != DEFAULT_BLOCK && used < len)
		used += (size_t)snprintf(buf + used, len - used, ",blocksize=%u", spec->block_size);
	if (spec->phys_block_size && used < len)
		used += (size_t)snprintf(buf + used, len - used, ",physblock=%u", spec->phys_block_size);
	if (spec->options[0] && used < len)
		snprintf(buf + used, len - used, ",%s", spec->options);
}

/* One credential: CHAP_N (a name) and the shared secret. */
static int chap_fill(struct chap_cred *cred, const char *user, const char *secret,
		     const char *user_path, const char *secret_path, char *err, size_t errlen)
{
	size_t slen = strlen(secret);

	if (!*user || strlen(user) >= CHAP_NAME_MAX)
		return failf(-EINVAL, err, errlen, user_path, "must be 1 to %d bytes", CHAP_NAME_MAX - 1);
	/* RFC 7143 9.2.1: secrets with less than 96 random bits are only
	 * allowed under IPsec, which sangw does not provide. */
	if (slen < CONFIG_CHAP_SECRET_MIN || slen >= CHAP_SECRET_MAX)
		return failf(-EINVAL, err, errlen, secret_path,
			     "must be %d to %d bytes long (RFC 7143 9.2.1 asks for at least 96 bits)",
			     CONFIG_CHAP_SECRET_MIN, CHAP_SECRET_MAX - 1);
	for (const char *p = user; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return failf(-EINVAL, err, errlen, user_path, "contains a control character");
	for (const char *p = secret; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return failf(-EINVAL, err, errlen, secret_path, "contains a control character");
	memset(cred, 0, sizeof(*cred));
	cred->set = true;
	str_copy(cred->user, user, sizeof(cred->user));
	str_copy(cred->secret, secret, sizeof(cred->secret));
	return 0;
}

/* {"user": "...", "secret": "..."} */
static int parse_chap(json_object *v, const char *path, struct chap_cred *cred,
		      char *err, size_t errlen)
{
	static const char *const keys[] = { "user", "secret", NULL };
	char user[CHAP_NAME_MAX + 1], secret[CHAP_SECRET_MAX + 1];
	char user_path[JPATH_MAX], secret_path[JPATH_MAX];
	json_object *u, *s;
	int r;

	if ((r = want_object(v, path, err, errlen)) ||
	    (r = check_keys(v, path, keys, NULL, err, errlen)))
		return r;
	path_key(user_path, path, "user");
	path_key(secret_path, path, "secret");
	if (!(u = member(v, "user")))
		return failf(-EINVAL, err, errlen, user_path, "missing");
	if (!(s = member(v, "secret")))
		return failf(-EINVAL, err, errlen, secret_path, "missing");
	if ((r = get_string(u, user_path, user, sizeof(user), err, errlen)) ||
	    (r = get_string(s, secret_path, secret, sizeof(secret), err, errlen)))
		return r;
	return chap_fill(cred, user, secret, user_path, secret_path, err, errlen);
}

/* Mutual CHAP is the target answering the initiator's challenge after the
 * initiator authenticated itself (RFC 7143 12.1.3), so it needs one-way
 * CHAP, and RFC 7143 9.2.1 forbids reusing a secret in both directions. */
static int check_chap_pair(const struct chap_cred *one_way, const struct chap_cred *mutual,
			   const char *mutual_path, char *err, size_t errlen)
{
	if (!mutual->set)
		return 0;
	if (!one_way->set)
		return failf(-EINVAL, err, errlen, mutual_path,
			     "mutual CHAP needs one-way CHAP (\"chap\") as well");
	if (strcmp(one_way->secret, mutual->secret) == 0)
		return failf(-EINVAL, err, errlen, mutual_path,
			     "the mutual secret must differ from the one-way secret (RFC 7143 9.2.1)");
	return 0;
}

/* ------------------------------------------------------------------------
 * Target parameters (RFC 7143 section 13 keys and sangw's own).
 * ---------------------------------------------------------------------- */

enum param_kind { PARAM_NUMBER, PARAM_BYTES, PARAM_YESNO, PARAM_DIGEST };

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
};
#undef TP

static const struct param_desc *param_find(const char *key, bool ignore_case)
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

/* JSON booleans, or the RFC's own spellings: Yes/No, CRC32C/None. */
static int param_value(const struct param_desc *d, json_object *v, const char *path,
		       struct target_params *p, char *err, size_t errlen)
{
	char buf[64];
	uint64_t value;
	bool flag;
	int r;

	switch (d->kind) {
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
		if ((r = get_bool_ex(v, path, true, &flag, err, errlen)) < 0)
			return failf(r, err, errlen, path, "%s is not %s", json_brief(v, buf, sizeof(buf)),
				     d->kind == PARAM_DIGEST ? "true/false or \"CRC32C\"/\"None\""
							     : "true/false or \"Yes\"/\"No\"");
		param_put(p, d, flag);
		return 0;
	case PARAM_BYTES:
		if ((r = get_size(v, path, &value, err, errlen)) < 0)
			return r;
		if (value < d->min || value > d->max)
			return failf(-ERANGE, err, errlen, path, "%llu is out of range (%u to %u)",
				     (unsigned long long)value, d->min, d->max);
		param_put(p, d, (uint32_t)value);
		return 0;
	case PARAM_NUMBER:
		if ((r = get_uint(v, path, d->min, d->max, &value, err, errlen)) < 0)
			return r;
		param_put(p, d, (uint32_t)value);
		return 0;
	}
	return -EINVAL;
}

static int params_check(const struct target_params *p, const char *path, char *err, size_t errlen)
{
	char q[JPATH_MAX];

	if (p->first_burst_length > p->max_burst_length) {
		path_key(q, path, "FirstBurstLength");
		return failf(-EINVAL, err, errlen, q, "%u exceeds MaxBurstLength %u (RFC 7143 13.14)",
			     p->first_burst_length, p->max_burst_length);
	}
	if (p->nop_interval && !p->nop_timeout) {
		path_key(q, path, "nop_timeout");
		return failf(-EINVAL, err, errlen, q, "must be at least 1 when nop_interval is set");
	}
	return 0;
}

/* Override the params in *p with the keys of object v. */
static int parse_params(json_object *v, const char *path, struct target_params *p,
			char *err, size_t errlen)
{
	int r;

	if ((r = want_object(v, path, err, errlen)) < 0)
		return r;
	json_object_object_foreach(v, key, val) {
		const struct param_desc *d = param_find(key, false);
		char q[JPATH_MAX], list[512] = "";
		size_t used = 0;

		path_key(q, path, key);
		if (!d) {
			for (size_t i = 0; i < ARRAY_SIZE(param_table) && used < sizeof(list); i++)
				used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
							 i ? ", " : "", param_table[i].key);
			return failf(-EINVAL, err, errlen, q, "unknown parameter (expected one of: %s)", list);
		}
		if ((r = param_value(d, val, q, p, err, errlen)) < 0)
			return r;
	}
	return params_check(p, path, err, errlen);
}

/* ------------------------------------------------------------------------
 * LU specs and ACLs.
 * ---------------------------------------------------------------------- */

static const char *const lu_keys[] = {
	"lun", "backstore", "path", "size", "thin", "removable", "readonly", "wwn",
	"block_size", "phys_block_size", "alua", "options", NULL,
};

/* The LU's NAA designator: IEEE Registered Extended, NAA 6, 128 bits
 * (SPC-4 7.8.6.6.5), as 32 hex digits; a leading "0x" is dropped. */
static int check_wwn(char *wwn, const char *path, char *err, size_t errlen)
{
	size_t len;

	if (wwn[0] == '0' && (wwn[1] == 'x' || wwn[1] == 'X'))
		memmove(wwn, wwn + 2, strlen(wwn + 2) + 1);
	len = strlen(wwn);
	if (len != 32 || !all_hex(wwn, len))
		return failf(-EINVAL, err, errlen, path, "\"%s\" is not 32 hex digits", wwn);
	if (wwn[0] != '6')
		return failf(-EINVAL, err, errlen, path,
			     "an NAA 6 designator starts with the digit 6 (SPC-4 7.8.6.6.5)");
	return 0;
}

/* "alua": {"policy": "active-optimized"}, or {"policy": "preferred",
 * "preferred_node": N, "others": "active-non-optimized" | "standby"}: the
 * states of the LU's target port groups, one per node (SPC-4 5.16). */
static int parse_alua_policy(json_object *v, const char *path, struct lu_alua_policy *policy,
			     char *err, size_t errlen)
{
	static const char *const keys[] = { "policy", "preferred_node", "others", NULL };
	char q[JPATH_MAX], text[32];
	json_object *f;
	uint64_t node;
	int r;

	if ((r = want_object(v, path, err, errlen)) < 0 ||
	    (r = check_keys(v, path, keys, NULL, err, errlen)) < 0)
		return r;
	memset(policy, 0, sizeof(*policy));
	path_key(q, path, "policy");
	if (!(f = member(v, "policy")))
		return failf(-EINVAL, err, errlen, q, "missing (\"active-optimized\" or \"preferred\")");
	if ((r = get_string(f, q, text, sizeof(text), err, errlen)) < 0)
		return r;
	if (strcmp(text, "active-optimized") == 0) {
		if (member(v, "preferred_node") || member(v, "others"))
			return failf(-EINVAL, err, errlen, path,
				     "preferred_node and others belong to the \"preferred\" policy");
		return 0;
	}
	if (strcmp(text, "preferred") != 0)
		return failf(-EINVAL, err, errlen, q, "\"%s\" is not \"active-optimized\" or \"preferred\"",
			     text);
	policy->kind = ALUA_POLICY_PREFERRED;
	policy->others = ALUA_ACTIVE_NON_OPTIMIZED;
	path_key(q, path, "preferred_node");
	if (!(f = member(v, "preferred_node")))
		return failf(-EINVAL, err, errlen, q, "missing (the node id whose port group is Active/Optimized)");
	if ((r = get_uint(f, q, 1, UINT16_MAX, &node, err, errlen)) < 0)
		return r;
	policy->preferred_node = (uint32_t)node;
	path_key(q, path, "others");
	if ((f = member(v, "others"))) {
		if ((r = get_string(f, q, text, sizeof(text), err, errlen)) < 0)
			return r;
		if (alua_state_parse(text, &policy->others) < 0 ||
		    (policy->others != ALUA_ACTIVE_NON_OPTIMIZED && policy->others != ALUA_STANDBY))
			return failf(-EINVAL, err, errlen, q,
				     "\"%s\" is not \"active-non-optimized\" or \"standby\"", text);
	}
	return 0;
}

static json_object *dump_alua_policy(const struct lu_alua_policy *policy)
{
	json_object *o = json_object_new_object();

	if (policy->kind != ALUA_POLICY_PREFERRED) {
		json_object_object_add(o, "policy", json_object_new_string("active-optimized"));
		return o;
	}
	json_object_object_add(o, "policy", json_object_new_string("preferred"));
	json_object_object_add(o, "preferred_node", json_object_new_int64(policy->preferred_node));
	json_object_object_add(o, "others", json_object_new_string(alua_state_name(policy->others)));
	return o;
}

/* Semantic checks shared by the file, the requests and spec strings. */
static int validate_lu_spec(struct lu_spec *spec, const char *path, char *err, size_t errlen)
{
	char q[JPATH_MAX];
	int r;

	path_key(q, path, "backstore");
	if (!spec->backstore[0])
		return failf(-EINVAL, err, errlen, q, "missing");
	if (!backstore_find(spec->backstore))
		return failf(-EINVAL, err, errlen, q, "unknown backstore \"%s\"", spec->backstore);
	path_key(q, path, "path");
	if (strcmp(spec->backstore, "file") == 0) {
		if (!spec->path[0])
			return failf(-EINVAL, err, errlen, q, "missing (the file backstore needs a path)");
		if (spec->path[0] != '/')
			return failf(-EINVAL, err, errlen, q, "\"%s\" is not an absolute path", spec->path);
	} else if (strcmp(spec->backstore, "null") == 0 && spec->path[0]) {
		return failf(-EINVAL, err, errlen, q, "the null backstore takes no path");
	} else if (strcmp(spec->backstore, "rbd") == 0) {
		/* RBD images are thin by nature: UNMAP frees objects. */
		spec->thin = true;
	}
	{
		const struct backstore_ops *ops = backstore_find(spec->backstore);
		char why[256] = "";

		if (!ops->check_spec && spec->options[0]) {
			path_key(q, path, "options");
			return failf(-EINVAL, err, errlen, q, "the %s backstore takes no options",
				     spec->backstore);
		}
		if (ops->check_spec && ops->check_spec(spec->path, spec->options, why, sizeof(why)) < 0)
			return failf(-EINVAL, err, errlen, q, "%s", why);
	}
	path_key(q, path, "block_size");
	if (spec->block_size == 0)
		spec->block_size = DEFAULT_BLOCK;
	if (spec->block_size != 512 && spec->block_size != 4096)
		return failf(-EINVAL, err, errlen, q, "%u is not 512 or 4096", spec->block_size);
	path_key(q, path, "phys_block_size");
	if (spec->phys_block_size &&
	    (spec->phys_block_size < spec->block_size || spec->phys_block_size > 65536 ||
	     (spec->phys_block_size & (spec->phys_block_size - 1))))
		return failf(-EINVAL, err, errlen, q, "%u is not a power of two from the block size to 65536",
			     spec->phys_block_size);
	path_key(q, path, "size");
	if (spec->size % spec->block_size)
		return failf(-EINVAL, err, errlen, q, "%llu is not a multiple of the block size %u",
			     (unsigned long long)spec->size, spec->block_size);
	if (spec->wwn[0]) {
		path_key(q, path, "wwn");
		if ((r = check_wwn(spec->wwn, q, err, errlen)) < 0)
			return r;
		for (char *c = spec->wwn; *c; c++)
			*c = (char)tolower((unsigned char)*c);
	}
	return 0;
}

/* LU fields of object v into spec (and the LUN when present). check keys
 * only when v is an LU object of its own (requests check their keys). */
static int parse_lu_fields(json_object *v, const char *path, bool check, struct lu_spec *spec,
			   bool *has_lun, uint64_t *lun, char *err, size_t errlen)
{
	char q[JPATH_MAX];
	json_object *f;
	uint64_t value;
	int r;

	if ((r = want_object(v, path, err, errlen)) < 0)
		return r;
	if (check && (r = check_keys(v, path, lu_keys, NULL, err, errlen)) < 0)
		return r;
	memset(spec, 0, sizeof(*spec));
	*has_lun = false;
	if ((f = member(v, "lun"))) {
		path_key(q, path, "lun");
		if ((r = get_uint(f, q, 0, MAX_LUNS_PER_TARGET - 1, lun, err, errlen)) < 0)
			return r;
		*has_lun = true;
	}
	path_key(q, path, "backstore");
	if ((f = member(v, "backstore")) &&
	    (r = get_string(f, q, spec->backstore, sizeof(spec->backstore), err, errlen)) < 0)
		return r;
	path_key(q, path, "path");
	if ((f = member(v, "path")) &&
	    (r = get_string(f, q, spec->path, sizeof(spec->path), err, errlen)) < 0)
		return r;
	path_key(q, path, "options");
	if ((f = member(v, "options")) &&
	    (r = get_string(f, q, spec->options, sizeof(spec->options), err, errlen)) < 0)
		return r;
	path_key(q, path, "size");
	if ((f = member(v, "size")) && (r = get_size(f, q, &spec->size, err, errlen)) < 0)
		return r;
	path_key(q, path, "thin");
	if ((f = member(v, "thin")) && (r = get_bool(f, q, &spec->thin, err, errlen)) < 0)
		return r;
	path_key(q, path, "removable");
	if ((f = member(v, "removable")) && (r = get_bool(f, q, &spec->removable, err, errlen)) < 0)
		return r;
	path_key(q, path, "readonly");
	if ((f = member(v, "readonly")) && (r = get_bool(f, q, &spec->readonly, err, errlen)) < 0)
		return r;
	path_key(q, path, "wwn");
	if ((f = member(v, "wwn"))) {
		char wwn[64];

		if ((r = get_string(f, q, wwn, sizeof(wwn), err, errlen)) < 0)
			return r;
		if (str_copy(spec->wwn, wwn[0] == '0' && (wwn[1] == 'x' || wwn[1] == 'X') ? wwn + 2 : wwn,
			     sizeof(spec->wwn)) >= sizeof(spec->wwn))
			return failf(-EINVAL, err, errlen, q, "\"%s\" is not 32 hex digits", wwn);
	}
	path_key(q, path, "block_size");
	if ((f = member(v, "block_size"))) {
		if ((r = get_uint(f, q, 0, UINT32_MAX, &value, err, errlen)) < 0)
			return r;
		spec->block_size = (uint32_t)value;
	}
	path_key(q, path, "phys_block_size");
	if ((f = member(v, "phys_block_size"))) {
		if ((r = get_uint(f, q, 0, UINT32_MAX, &value, err, errlen)) < 0)
			return r;
		spec->phys_block_size = (uint32_t)value;
	}
	path_key(q, path, "alua");
	if ((f = member(v, "alua")) && (r = parse_alua_policy(f, q, &spec->alua, err, errlen)) < 0)
		return r;
	return validate_lu_spec(spec, path, err, errlen);
}

static int map_entry_cmp(const void *a, const void *b)
{
	const struct lun_map_entry *x = a, *y = b;

	return x->mapped_lun < y->mapped_lun ? -1 : x->mapped_lun > y->mapped_lun;
}

/* [{"mapped_lun": 0, "lun": 3}, ...], kept sorted by mapped_lun. */
static int parse_lun_map(json_object *v, const char *path, struct acl *acl, char *err, size_t errlen)
{
	static const char *const keys[] = { "mapped_lun", "lun", NULL };
	size_t n;
	int r;

	if ((r = want_array(v, path, err, errlen)) < 0)
		return r;
	n = json_object_array_length(v);
	if (n == 0)
		return failf(-EINVAL, err, errlen, path,
			     "is empty; leave lun_map out to give the initiator every LUN");
	if (n > MAX_LUNS_PER_TARGET)
		return failf(-EINVAL, err, errlen, path, "has more than %d entries", MAX_LUNS_PER_TARGET);
	acl->map_count = 0;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i), *f;
		struct lun_map_entry *m = &acl->map[i];
		char q[JPATH_MAX], k[JPATH_MAX];

		path_index(q, path, (unsigned)i);
		if ((r = want_object(e, q, err, errlen)) < 0 ||
		    (r = check_keys(e, q, keys, NULL, err, errlen)) < 0)
			return r;
		path_key(k, q, "mapped_lun");
		if (!(f = member(e, "mapped_lun")))
			return failf(-EINVAL, err, errlen, k, "missing");
		if ((r = get_uint(f, k, 0, MAX_LUNS_PER_TARGET - 1, &m->mapped_lun, err, errlen)) < 0)
			return r;
		path_key(k, q, "lun");
		if (!(f = member(e, "lun")))
			return failf(-EINVAL, err, errlen, k, "missing");
		if ((r = get_uint(f, k, 0, MAX_LUNS_PER_TARGET - 1, &m->target_lun, err, errlen)) < 0)
			return r;
		for (size_t j = 0; j < i; j++) {
			if (acl->map[j].mapped_lun == m->mapped_lun) {
				path_key(k, q, "mapped_lun");
				return failf(-EEXIST, err, errlen, k, "%llu is mapped twice",
					     (unsigned long long)m->mapped_lun);
			}
			/* One LU under two LUNs of one nexus would look like two
			 * disks to multipath software. */
			if (acl->map[j].target_lun == m->target_lun) {
				path_key(k, q, "lun");
				return failf(-EEXIST, err, errlen, k, "LUN %llu is mapped twice",
					     (unsigned long long)m->target_lun);
			}
		}
		acl->map_count++;
	}
	qsort(acl->map, acl->map_count, sizeof(acl->map[0]), map_entry_cmp);
	return 0;
}

/* An ACL object: initiator, chap, mutual_chap, lun_map. LUN references
 * are checked by the caller (against the document or the model). */
static int parse_acl(json_object *v, const char *path, const char *const *also_allowed,
		     struct acl *acl, char *err, size_t errlen)
{
	static const char *const keys[] = { "initiator", "chap", "mutual_chap", "lun_map", NULL };
	char q[JPATH_MAX];
	json_object *f;
	int r;

	if ((r = want_object(v, path, err, errlen)) < 0 ||
	    (r = check_keys(v, path, keys, also_allowed, err, errlen)) < 0)
		return r;
	memset(acl, 0, sizeof(*acl));
	path_key(q, path, "initiator");
	if (!(f = member(v, "initiator")))
		return failf(-EINVAL, err, errlen, q, "missing");
	if ((r = get_string(f, q, acl->initiator, sizeof(acl->initiator), err, errlen)) < 0 ||
	    (r = check_name(acl->initiator, q, err, errlen)) < 0)
		return r;
	path_key(q, path, "chap");
	if ((f = member(v, "chap")) && (r = parse_chap(f, q, &acl->chap, err, errlen)) < 0)
		return r;
	path_key(q, path, "mutual_chap");
	if ((f = member(v, "mutual_chap")) && (r = parse_chap(f, q, &acl->mutual_chap, err, errlen)) < 0)
		return r;
	if ((r = check_chap_pair(&acl->chap, &acl->mutual_chap, q, err, errlen)) < 0)
		return r;
	path_key(q, path, "lun_map");
	if ((f = member(v, "lun_map")) && (r = parse_lun_map(f, q, acl, err, errlen)) < 0)
		return r;
	return 0;
}

static bool spec_equal(const struct lu_spec *a, const struct lu_spec *b, bool ignore_size)
{
	uint32_t ba = a->block_size ? a->block_size : DEFAULT_BLOCK;
	uint32_t bb = b->block_size ? b->block_size : DEFAULT_BLOCK;

	return strcmp(a->backstore, b->backstore) == 0 && strcmp(a->path, b->path) == 0 &&
	       strcmp(a->options, b->options) == 0 &&
	       (ignore_size || a->size == b->size) && a->thin == b->thin &&
	       a->removable == b->removable && a->readonly == b->readonly && ba == bb &&
	       a->phys_block_size == b->phys_block_size &&
	       strcasecmp(a->wwn, b->wwn) == 0;
}

static bool acl_map_equal(const struct acl *a, const struct acl *b)
{
	if (a->map_count != b->map_count)
		return false;
	for (unsigned i = 0; i < a->map_count; i++)
		if (a->map[i].mapped_lun != b->map[i].mapped_lun ||
		    a->map[i].target_lun != b->map[i].target_lun)
			return false;
	return true;
}

/* ------------------------------------------------------------------------
 * The document: what the file (or a config_replace request) asks for.
 * ---------------------------------------------------------------------- */

struct cfg_lu {
	uint64_t lun;
	struct lu_spec spec;
};

struct cfg_target {
	char iqn[ISCSI_NAME_MAX];
	bool demo_mode;
	struct chap_cred chap, mutual_chap;
	struct target_params params;
	struct cfg_lu *lus;
	unsigned n_lus;
	struct acl *acls;             /* only the data fields; link unused */
	unsigned n_acls;
};

struct cfg_portal {
	char addr[64];
	uint16_t port;
};

struct cfg_doc {
	bool has_portals;             /* absent: the portals stay as they are */
	struct cfg_portal *portals;
	unsigned n_portals;
	bool discovery_auth;
	struct chap_cred discovery_chap, discovery_mutual_chap;
	struct cfg_target *targets;
	unsigned n_targets;
};

static void doc_free(struct cfg_doc *doc)
{
	for (unsigned i = 0; i < doc->n_targets; i++) {
		free(doc->targets[i].lus);
		free(doc->targets[i].acls);
	}
	free(doc->targets);
	free(doc->portals);
	memset(doc, 0, sizeof(*doc));
}

static const struct cfg_lu *cfg_find_lu(const struct cfg_target *ct, uint64_t lun)
{
	for (unsigned i = 0; i < ct->n_lus; i++)
		if (ct->lus[i].lun == lun)
			return &ct->lus[i];
	return NULL;
}

static const struct acl *cfg_find_acl(const struct cfg_target *ct, const char *initiator)
{
	for (unsigned i = 0; i < ct->n_acls; i++)
		if (strcasecmp(ct->acls[i].initiator, initiator) == 0)
			return &ct->acls[i];
	return NULL;
}

static const struct cfg_target *cfg_find_target(const struct cfg_doc *doc, const char *iqn)
{
	for (unsigned i = 0; i < doc->n_targets; i++)
		if (strcasecmp(doc->targets[i].iqn, iqn) == 0)
			return &doc->targets[i];
	return NULL;
}

static int parse_portals(json_object *v, const char *path, struct cfg_doc *doc,
			 char *err, size_t errlen)
{
	size_t n;
	int r;

	if ((r = want_array(v, path, err, errlen)) < 0)
		return r;
	n = json_object_array_length(v);
	doc->portals = calloc(n ? n : 1, sizeof(*doc->portals));
	if (!doc->portals)
		return failf(-ENOMEM, err, errlen, path, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct cfg_portal *p = &doc->portals[i];
		char q[JPATH_MAX], text[128], why[256];

		path_index(q, path, (unsigned)i);
		if ((r = get_string(json_object_array_get_idx(v, i), q, text, sizeof(text), err, errlen)) < 0)
			return r;
		if (config_portal_parse(text, p->addr, sizeof(p->addr), &p->port, why, sizeof(why)) < 0)
			return failf(-EINVAL, err, errlen, q, "%s", why);
		for (size_t j = 0; j < i; j++)
			if (strcmp(doc->portals[j].addr, p->addr) == 0 && doc->portals[j].port == p->port)
				return failf(-EEXIST, err, errlen, q, "\"%s\" is listed twice", text);
		doc->n_portals++;
	}
	return 0;
}

static int parse_discovery(json_object *v, const char *path, struct cfg_doc *doc,
			   char *err, size_t errlen)
{
	static const char *const keys[] = { "auth", "chap", "mutual_chap", NULL };
	char q[JPATH_MAX];
	json_object *f;
	int r;

	if ((r = want_object(v, path, err, errlen)) < 0 ||
	    (r = check_keys(v, path, keys, NULL, err, errlen)) < 0)
		return r;
	path_key(q, path, "chap");
	if ((f = member(v, "chap")) && (r = parse_chap(f, q, &doc->discovery_chap, err, errlen)) < 0)
		return r;
	path_key(q, path, "mutual_chap");
	if ((f = member(v, "mutual_chap")) &&
	    (r = parse_chap(f, q, &doc->discovery_mutual_chap, err, errlen)) < 0)
		return r;
	if ((r = check_chap_pair(&doc->discovery_chap, &doc->discovery_mutual_chap, q, err, errlen)) < 0)
		return r;
	path_key(q, path, "auth");
	if ((f = member(v, "auth")) && (r = get_bool(f, q, &doc->discovery_auth, err, errlen)) < 0)
		return r;
	if (doc->discovery_auth && !doc->discovery_chap.set)
		return failf(-EINVAL, err, errlen, q, "requiring CHAP on discovery needs discovery.chap");
	return 0;
}

static int parse_target(json_object *v, const char *path, struct cfg_target *ct,
			char *err, size_t errlen)
{
	static const char *const keys[] = {
		"iqn", "demo_mode", "chap", "mutual_chap", "params", "luns", "acls", NULL,
	};
	char q[JPATH_MAX];
	json_object *f;
	size_t n;
	int r;

	if ((r = want_object(v, path, err, errlen)) < 0 ||
	    (r = check_keys(v, path, keys, NULL, err, errlen)) < 0)
		return r;
	path_key(q, path, "iqn");
	if (!(f = member(v, "iqn")))
		return failf(-EINVAL, err, errlen, q, "missing");
	if ((r = get_string(f, q, ct->iqn, sizeof(ct->iqn), err, errlen)) < 0 ||
	    (r = check_name(ct->iqn, q, err, errlen)) < 0)
		return r;
	path_key(q, path, "demo_mode");
	if ((f = member(v, "demo_mode")) && (r = get_bool(f, q, &ct->demo_mode, err, errlen)) < 0)
		return r;
	path_key(q, path, "chap");
	if ((f = member(v, "chap")) && (r = parse_chap(f, q, &ct->chap, err, errlen)) < 0)
		return r;
	path_key(q, path, "mutual_chap");
	if ((f = member(v, "mutual_chap")) && (r = parse_chap(f, q, &ct->mutual_chap, err, errlen)) < 0)
		return r;
	if ((r = check_chap_pair(&ct->chap, &ct->mutual_chap, q, err, errlen)) < 0)
		return r;
	target_params_defaults(&ct->params);
	path_key(q, path, "params");
	if ((f = member(v, "params")) && (r = parse_params(f, q, &ct->params, err, errlen)) < 0)
		return r;

	path_key(q, path, "luns");
	if ((f = member(v, "luns"))) {
		if ((r = want_array(f, q, err, errlen)) < 0)
			return r;
		n = json_object_array_length(f);
		if (n > MAX_LUNS_PER_TARGET)
			return failf(-EINVAL, err, errlen, q, "has more than %d LUs", MAX_LUNS_PER_TARGET);
		ct->lus = calloc(n ? n : 1, sizeof(*ct->lus));
		if (!ct->lus)
			return failf(-ENOMEM, err, errlen, q, "out of memory");
		for (size_t i = 0; i < n; i++) {
			struct cfg_lu *cl = &ct->lus[i];
			char lq[JPATH_MAX], k[JPATH_MAX];
			bool has_lun;

			path_index(lq, q, (unsigned)i);
			if ((r = parse_lu_fields(json_object_array_get_idx(f, i), lq, true, &cl->spec,
						 &has_lun, &cl->lun, err, errlen)) < 0)
				return r;
			path_key(k, lq, "lun");
			if (!has_lun)
				return failf(-EINVAL, err, errlen, k, "missing");
			if (cfg_find_lu(ct, cl->lun))
				return failf(-EEXIST, err, errlen, k, "LUN %llu is defined twice",
					     (unsigned long long)cl->lun);
			ct->n_lus++;
		}
	}

	path_key(q, path, "acls");
	if ((f = member(v, "acls"))) {
		if ((r = want_array(f, q, err, errlen)) < 0)
			return r;
		n = json_object_array_length(f);
		ct->acls = calloc(n ? n : 1, sizeof(*ct->acls));
		if (!ct->acls)
			return failf(-ENOMEM, err, errlen, q, "out of memory");
		for (size_t i = 0; i < n; i++) {
			struct acl *a = &ct->acls[i];
			char aq[JPATH_MAX], k[JPATH_MAX];

			path_index(aq, q, (unsigned)i);
			if ((r = parse_acl(json_object_array_get_idx(f, i), aq, NULL, a, err, errlen)) < 0)
				return r;
			if (cfg_find_acl(ct, a->initiator)) {
				path_key(k, aq, "initiator");
				return failf(-EEXIST, err, errlen, k, "\"%s\" has two ACLs", a->initiator);
			}
			for (unsigned m = 0; m < a->map_count; m++) {
				if (cfg_find_lu(ct, a->map[m].target_lun))
					continue;
				path_key(k, aq, "lun_map");
				return failf(-ENOENT, err, errlen, k, "maps LUN %llu, which the target does not have",
					     (unsigned long long)a->map[m].target_lun);
			}
			ct->n_acls++;
		}
	}
	return 0;
}

static int parse_doc(json_object *root, struct cfg_doc *doc, char *err, size_t errlen)
{
	static const char *const keys[] = { "portals", "discovery", "targets", NULL };
	json_object *f;
	int r;

	memset(doc, 0, sizeof(*doc));
	if ((r = want_object(root, "", err, errlen)) < 0)
		return failf(r, err, errlen, NULL, "the configuration must be a JSON object, not %s",
			     json_type_text(root));
	if ((r = check_keys(root, "", keys, NULL, err, errlen)) < 0)
		return r;
	doc->has_portals = member(root, "portals") != NULL;
	if ((f = member(root, "portals")) && (r = parse_portals(f, "portals", doc, err, errlen)) < 0)
		return r;
	if ((f = member(root, "discovery")) && (r = parse_discovery(f, "discovery", doc, err, errlen)) < 0)
		return r;
	if ((f = member(root, "targets"))) {
		size_t n;

		if ((r = want_array(f, "targets", err, errlen)) < 0)
			return r;
		n = json_object_array_length(f);
		doc->targets = calloc(n ? n : 1, sizeof(*doc->targets));
		if (!doc->targets)
			return failf(-ENOMEM, err, errlen, "targets", "out of memory");
		for (size_t i = 0; i < n; i++) {
			struct cfg_target *ct = &doc->targets[i];
			char q[JPATH_MAX], k[JPATH_MAX];

			path_index(q, "targets", (unsigned)i);
			doc->n_targets++;   /* counted first so doc_free() frees its arrays */
			if ((r = parse_target(json_object_array_get_idx(f, i), q, ct, err, errlen)) < 0)
				return r;
			for (unsigned j = 0; j < i; j++) {
				if (strcasecmp(doc->targets[j].iqn, ct->iqn) == 0) {
					path_key(k, q, "iqn");
					return failf(-EEXIST, err, errlen, k, "\"%s\" is defined twice", ct->iqn);
				}
			}
		}
	}
	/* Two LUs on one backing file would be two disks sharing blocks. */
	for (unsigned i = 0; i < doc->n_targets; i++) {
		for (unsigned j = 0; j < doc->targets[i].n_lus; j++) {
			const struct lu_spec *s = &doc->targets[i].lus[j].spec;

			if (strcmp(s->backstore, "file") != 0)
				continue;
			for (unsigned a = 0; a <= i; a++) {
				unsigned end = a == i ? j : doc->targets[a].n_lus;

				for (unsigned b = 0; b < end; b++) {
					const struct lu_spec *o = &doc->targets[a].lus[b].spec;
					char q[JPATH_MAX];

					if (strcmp(o->backstore, "file") || strcmp(o->path, s->path))
						continue;
					snprintf(q, sizeof(q), "targets[%u].luns[%u].path", i, j);
					return failf(-EEXIST, err, errlen, q,
						     "\"%s\" is already used by targets[%u].luns[%u]",
						     s->path, a, b);
				}
			}
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * JSON text.
 * ---------------------------------------------------------------------- */

static json_object *parse_json_text(const char *text, size_t len, char *err, size_t errlen)
{
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	json_object *obj;
	size_t end;

	if (len > INT32_MAX) {
		failf(-E2BIG, err, errlen, NULL, "JSON text too large");
		return NULL;
	}
	if (memchr(text, '\0', len)) {
		failf(-EINVAL, err, errlen, NULL, "JSON text contains a NUL byte");
		return NULL;
	}
	tok = json_tokener_new_ex(64);
	if (!tok) {
		failf(-ENOMEM, err, errlen, NULL, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_success) {
		while (end < len && isspace((unsigned char)text[end]))
			end++;
		if (end < len) {
			json_object_put(obj);
			obj = NULL;
			jerr = json_tokener_error_parse_unexpected;
		}
	}
	if (!obj) {
		unsigned line = 1, column = 1;

		for (size_t i = 0; i < end && i < len; i++, column++)
			if (text[i] == '\n')
				line++, column = 0;
		if (jerr == json_tokener_continue)
			failf(-EINVAL, err, errlen, NULL, "JSON text ends too early (line %u)", line);
		else
			failf(-EINVAL, err, errlen, NULL, "JSON syntax error at line %u, column %u: %s",
			      line, column, json_tokener_error_desc(jerr));
	}
	json_tokener_free(tok);
	return obj;
}

json_object *config_json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	return parse_json_text(text, len, err, errlen);
}

static int read_text_file(const char *path, char **text, size_t *len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > CONFIG_MAX_FILE_SIZE) {
		close(fd);
		return S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*text = buf;
	*len = got;
	return 0;
}

/* ------------------------------------------------------------------------
 * Editing the model: sessions, unit attentions, deferred frees.
 * ---------------------------------------------------------------------- */

static void drop_nexus(struct it_nexus *nx)
{
	if (nx->fabric && nx->fabric->drop)
		nx->fabric->drop(nx);
}

static bool target_has_nexus(struct gateway *gw, const struct target *t)
{
	struct it_nexus *nx;

	TAILQ_FOREACH(nx, &gw->nexuses, link)
		if (nx->target == t)
			return true;
	return false;
}

static bool acl_has_nexus(struct gateway *gw, const struct acl *acl)
{
	struct it_nexus *nx;

	TAILQ_FOREACH(nx, &gw->nexuses, link)
		if (nx->acl == acl)
			return true;
	return false;
}

static unsigned count_nexuses(struct gateway *gw, const struct target *t, const struct acl *acl)
{
	struct it_nexus *nx;
	unsigned n = 0;

	TAILQ_FOREACH(nx, &gw->nexuses, link)
		if ((t && nx->target == t) || (acl && nx->acl == acl))
			n++;
	return n;
}

/* A removed target or ACL whose sessions were dropped: the fabric
 * unregisters them later, and until then their nexuses still point here.
 * The object is out of the model already; it is freed once unreferenced. */
struct reaper {
	struct gateway *gw;
	struct target *target;
	struct acl *acl;
	struct ev_timer timer;
	unsigned polls;
};

static void reaper_poll(struct event_loop *loop, void *arg)
{
	struct reaper *r = arg;
	bool busy = r->target ? target_has_nexus(r->gw, r->target) : acl_has_nexus(r->gw, r->acl);

	if (busy) {
		if (++r->polls % 100 == 0)
			log_warn("config: removed %s %s still has sessions after %u s",
				 r->target ? "target" : "ACL",
				 r->target ? r->target->iqn : r->acl->initiator,
				 r->polls * REAP_POLL_MS / 1000);
		ev_timer_arm(loop, &r->timer, REAP_POLL_MS);
		return;
	}
	if (r->target) {
		/* target_destroy() unlinks it from gw->targets itself. */
		TAILQ_INSERT_TAIL(&r->gw->targets, r->target, link);
		target_destroy(r->target);
	} else {
		free(r->acl);
	}
	free(r);
}

static void reap_later(struct gateway *gw, struct target *t, struct acl *acl)
{
	struct reaper *r;

	if (!gw->loop || !(r = calloc(1, sizeof(*r)))) {
		log_error("config: cannot defer freeing a removed %s; leaking it", t ? "target" : "ACL");
		return;
	}
	r->gw = gw;
	r->target = t;
	r->acl = acl;
	ev_timer_init(&r->timer, reaper_poll, r);
	ev_timer_arm(gw->loop, &r->timer, REAP_POLL_MS);
}

/* Removing a target drops only its own sessions. */
static void target_remove(struct gateway *gw, struct target *t)
{
	struct it_nexus *nx, *next;
	struct lu *lu;
	bool busy = false;

	log_info("config: removing target %s", t->iqn);
	TAILQ_FOREACH(lu, &t->lus, link)
		lu->removing = true;
	for (nx = TAILQ_FIRST(&gw->nexuses); nx; nx = next) {
		next = TAILQ_NEXT(nx, link);
		if (nx->target == t) {
			drop_nexus(nx);
			busy = true;
		}
	}
	if (busy && target_has_nexus(gw, t)) {
		TAILQ_REMOVE(&gw->targets, t, link);
		reap_later(gw, t, NULL);
		return;
	}
	target_destroy(t);
}

static void acl_remove(struct gateway *gw, struct target *t, struct acl *acl)
{
	struct it_nexus *nx, *next;

	log_info("config: removing ACL %s of %s", acl->initiator, t->iqn);
	TAILQ_REMOVE(&t->acls, acl, link);
	for (nx = TAILQ_FIRST(&gw->nexuses); nx; nx = next) {
		next = TAILQ_NEXT(nx, link);
		if (nx->acl == acl)
			drop_nexus(nx);
	}
	if (acl_has_nexus(gw, acl))
		reap_later(gw, NULL, acl);
	else
		free(acl);
}

static struct acl *acl_insert(struct target *t, const struct acl *from)
{
	struct acl *acl = calloc(1, sizeof(*acl));

	if (!acl)
		return NULL;
	*acl = *from;
	TAILQ_INSERT_TAIL(&t->acls, acl, link);
	return acl;
}

static void lu_remove(struct lu *lu)
{
	log_info("config: removing LUN %llu of %s", (unsigned long long)lu->lun, lu->target->iqn);
	lu->removing = true;
	lu_destroy(lu);
}

/* SPC-4 7.6 / SAM-5 5.14: REPORTED LUNS DATA HAS CHANGED for every nexus
 * of the target on this node. Config operations are applied on every
 * node, so each node establishes the UA for its own nexuses directly. */
static void ua_luns_changed(struct gateway *gw, struct target *t)
{
	struct lu *lu;

	TAILQ_FOREACH(lu, &t->lus, link)
		ua_establish_lu(gw, lu, 0, ASC_REPORTED_LUNS_DATA_HAS_CHANGED);
}

/* An ACL's LUN map changed: only its own nexuses see a new inventory. */
static void ua_acl_view_changed(struct gateway *gw, struct target *t, const struct acl *acl)
{
	struct it_nexus *nx;
	struct lu *lu;
	uint64_t mapped;

	TAILQ_FOREACH(nx, &gw->nexuses, link) {
		if (nx->acl != acl)
			continue;
		TAILQ_FOREACH(lu, &t->lus, link)
			if (acl_maps_lu(acl, lu, &mapped))
				ua_establish(nx, lu_key(lu), ASC_REPORTED_LUNS_DATA_HAS_CHANGED);
	}
}

/* Leaving demo mode: sessions that logged in without an ACL must go. */
static void drop_demo_sessions(struct gateway *gw, struct target *t)
{
	struct it_nexus *nx, *next;

	for (nx = TAILQ_FIRST(&gw->nexuses); nx; nx = next) {
		next = TAILQ_NEXT(nx, link);
		if (nx->target == t && !nx->acl)
			drop_nexus(nx);
	}
}

static int set_demo_mode(struct gateway *gw, struct target *t, bool on)
{
	if (t->demo_mode && !on)
		drop_demo_sessions(gw, t);
	t->demo_mode = on;
	return 0;
}

/* Rebind the listeners to gw->portals. Returns 0 or -EADDRNOTAVAIL with
 * the fabric's message (portals_changed() need not return an errno). */
static int notify_portals(struct gateway *gw, char *err, size_t errlen)
{
	char scratch[256];

	if (!gw->portals_changed)
		return 0;
	if (!err) {
		err = scratch;
		errlen = sizeof(scratch);
	}
	err[0] = '\0';
	return gw->portals_changed(gw, err, errlen) == 0 ? 0 : -EADDRNOTAVAIL;
}

static struct portal *find_portal(struct gateway *gw, const char *addr, uint16_t port)
{
	struct portal *p;

	TAILQ_FOREACH(p, &gw->portals, link)
		if (p->port == port && strcmp(p->addr, addr) == 0)
			return p;
	return NULL;
}

/* The LU already backed by this file or image (two LUs of one node on
 * the same blocks would be two disks sharing them). */
static struct lu *find_backing_user(struct gateway *gw, const char *backstore, const char *path)
{
	struct target *t;
	struct lu *lu;

	TAILQ_FOREACH(t, &gw->targets, link)
		TAILQ_FOREACH(lu, &t->lus, link)
			if (strcmp(lu->spec.backstore, backstore) == 0 && strcmp(lu->spec.path, path) == 0)
				return lu;
	return NULL;
}

static int lowest_free_lun(struct target *t, uint64_t *lun)
{
	for (uint64_t n = 0; n < MAX_LUNS_PER_TARGET; n++) {
		if (!target_find_lu(t, n)) {
			*lun = n;
			return 0;
		}
	}
	return -ENOSPC;
}

static struct lu *create_lu(struct target *t, uint64_t lun, const struct lu_spec *spec,
			    const char *path, char *err, size_t errlen)
{
	char why[512] = "";
	struct lu *lu = lu_create(t, lun, spec, why, sizeof(why));

	if (!lu)
		failf(-EIO, err, errlen, path, "cannot create LUN %llu: %s", (unsigned long long)lun,
		      why[0] ? why : "backstore open failed");
	return lu;
}

/* ------------------------------------------------------------------------
 * Applying a whole document: build (load) or diff (reload).
 * ---------------------------------------------------------------------- */

/* Keep the first error's message; later ones are only logged. */
static void note_error(int *first, int r, char *err, size_t errlen, const char *msg)
{
	if (*first == 0) {
		*first = r;
		snprintf(err, errlen, "%s", msg);
	} else {
		log_error("config: %s", msg);
	}
}

static int build_target(struct gateway *gw, const struct cfg_target *ct, unsigned index,
			bool stop_on_error, char *err, size_t errlen)
{
	struct target *t = target_create(gw, ct->iqn);
	char path[JPATH_MAX], msg[768];
	int first = 0;

	path_index(path, "targets", index);
	if (!t)
		return failf(-ENOMEM, err, errlen, path, "cannot create target %s", ct->iqn);
	t->demo_mode = ct->demo_mode;
	t->chap = ct->chap;
	t->mutual_chap = ct->mutual_chap;
	t->params = ct->params;
	for (unsigned i = 0; i < ct->n_lus; i++) {
		char q[JPATH_MAX];

		snprintf(q, sizeof(q), "targets[%u].luns[%u]", index, i);
		if (!create_lu(t, ct->lus[i].lun, &ct->lus[i].spec, q, msg, sizeof(msg))) {
			note_error(&first, -EIO, err, errlen, msg);
			if (stop_on_error)
				return first;
		}
	}
	for (unsigned i = 0; i < ct->n_acls; i++)
		if (!acl_insert(t, &ct->acls[i]))
			return failf(-ENOMEM, err, errlen, path, "out of memory");
	return first;
}

/* Bring target t to what ct describes, touching only what differs. */
static int update_target(struct gateway *gw, struct target *t, const struct cfg_target *ct,
			 unsigned index, char *err, size_t errlen)
{
	struct lu *lu, *next_lu;
	struct acl *acl, *next_acl;
	bool luns_changed = false;
	char path[JPATH_MAX], msg[768];
	int first = 0;

	path_index(path, "targets", index);
	/* Parameters and CHAP only matter to logins still to come. */
	t->params = ct->params;
	t->chap = ct->chap;
	t->mutual_chap = ct->mutual_chap;
	set_demo_mode(gw, t, ct->demo_mode);

	for (acl = TAILQ_FIRST(&t->acls); acl; acl = next_acl) {
		next_acl = TAILQ_NEXT(acl, link);
		if (!cfg_find_acl(ct, acl->initiator))
			acl_remove(gw, t, acl);
	}

	for (lu = TAILQ_FIRST(&t->lus); lu; lu = next_lu) {
		const struct cfg_lu *cl = cfg_find_lu(ct, lu->lun);
		uint64_t lun = lu->lun;
		char q[JPATH_MAX];

		next_lu = TAILQ_NEXT(lu, link);
		if (!cl) {
			lu_remove(lu);
			luns_changed = true;
			continue;
		}
		/* A new ALUA policy applies in place: an implicit transition. */
		if (!alua_policy_equal(&lu->spec.alua, &cl->spec.alua))
			alua_lu_set_policy(lu, &cl->spec.alua);
		/* size 0 means "the backing's own size": not a change. */
		if (spec_equal(&lu->spec, &cl->spec, cl->spec.size == 0))
			continue;
		snprintf(q, sizeof(q), "targets[%u].luns", index);
		if (spec_equal(&lu->spec, &cl->spec, true)) {
			char why[256] = "";

			int rr = lu_resize(lu, cl->spec.size, why, sizeof(why));

			if (rr < 0) {
				snprintf(msg, sizeof(msg), "%s: cannot resize LUN %llu: %s", q,
					 (unsigned long long)lun, why);
				note_error(&first, -EIO, err, errlen, msg);
				continue;
			}
			lu->spec.size = cl->spec.size;
			/* A pending resize raises it when it ends. */
			if (rr == 0)
				ua_establish_lu(gw, lu, 0, ASC_CAPACITY_DATA_HAS_CHANGED);
			continue;
		}
		/* Any other change replaces the LU: a new identity or backing. */
		lu_remove(lu);
		luns_changed = true;
		if (!create_lu(t, lun, &cl->spec, q, msg, sizeof(msg)))
			note_error(&first, -EIO, err, errlen, msg);
	}
	for (unsigned i = 0; i < ct->n_lus; i++) {
		char q[JPATH_MAX];

		if (target_find_lu(t, ct->lus[i].lun))
			continue;
		snprintf(q, sizeof(q), "targets[%u].luns[%u]", index, i);
		luns_changed = true;
		if (!create_lu(t, ct->lus[i].lun, &ct->lus[i].spec, q, msg, sizeof(msg)))
			note_error(&first, -EIO, err, errlen, msg);
	}

	for (unsigned i = 0; i < ct->n_acls; i++) {
		const struct acl *want = &ct->acls[i];

		acl = target_find_acl(t, want->initiator);
		if (!acl) {
			if (!acl_insert(t, want))
				note_error(&first, -ENOMEM, err, errlen, "out of memory");
			continue;
		}
		acl->chap = want->chap;
		acl->mutual_chap = want->mutual_chap;
		if (!acl_map_equal(acl, want)) {
			acl->map_count = want->map_count;
			memcpy(acl->map, want->map, sizeof(acl->map));
			ua_acl_view_changed(gw, t, acl);
		}
	}
	if (luns_changed)
		ua_luns_changed(gw, t);
	return first;
}

static bool portals_match(struct gateway *gw, const struct cfg_doc *doc)
{
	struct portal *p;
	unsigned n = 0;

	TAILQ_FOREACH(p, &gw->portals, link)
		n++;
	if (n != doc->n_portals)
		return false;
	for (unsigned i = 0; i < doc->n_portals; i++)
		if (!find_portal(gw, doc->portals[i].addr, doc->portals[i].port))
			return false;
	return true;
}

/* Replace the portal list; on a bind failure put the old one back. */
static int update_portals(struct gateway *gw, const struct cfg_doc *doc, char *err, size_t errlen)
{
	TAILQ_HEAD(, portal) old = TAILQ_HEAD_INITIALIZER(old);
	struct portal *p;
	char why[256] = "";
	int r;

	if (!doc->has_portals || portals_match(gw, doc))
		return 0;
	while ((p = TAILQ_FIRST(&gw->portals))) {
		TAILQ_REMOVE(&gw->portals, p, link);
		TAILQ_INSERT_TAIL(&old, p, link);
	}
	for (unsigned i = 0; i < doc->n_portals; i++) {
		if (!(p = calloc(1, sizeof(*p)))) {
			r = -ENOMEM;
			snprintf(why, sizeof(why), "out of memory");
			goto restore;
		}
		str_copy(p->addr, doc->portals[i].addr, sizeof(p->addr));
		p->port = doc->portals[i].port;
		TAILQ_INSERT_TAIL(&gw->portals, p, link);
	}
	r = notify_portals(gw, why, sizeof(why));
	if (r == 0) {
		while ((p = TAILQ_FIRST(&old))) {
			TAILQ_REMOVE(&old, p, link);
			free(p);
		}
		return 0;
	}
restore:
	while ((p = TAILQ_FIRST(&gw->portals))) {
		TAILQ_REMOVE(&gw->portals, p, link);
		free(p);
	}
	while ((p = TAILQ_FIRST(&old))) {
		TAILQ_REMOVE(&old, p, link);
		TAILQ_INSERT_TAIL(&gw->portals, p, link);
	}
	notify_portals(gw, NULL, 0);
	return failf(r, err, errlen, "portals", "cannot listen on the new portals: %s", why);
}

/* Make the model match doc. At startup (stop_on_error) the first failure
 * ends it; a reload carries on and reports the first failure. */
static int apply_doc(struct gateway *gw, const struct cfg_doc *doc, bool stop_on_error,
		     char *err, size_t errlen)
{
	struct target *t, *next;
	char msg[768];
	int first = 0, r;

	gw->discovery_auth = doc->discovery_auth;
	gw->discovery_chap = doc->discovery_chap;
	gw->discovery_mutual_chap = doc->discovery_mutual_chap;

	for (t = TAILQ_FIRST(&gw->targets); t; t = next) {
		next = TAILQ_NEXT(t, link);
		if (!cfg_find_target(doc, t->iqn))
			target_remove(gw, t);
	}
	for (unsigned i = 0; i < doc->n_targets; i++) {
		const struct cfg_target *ct = &doc->targets[i];

		t = gw_find_target(gw, ct->iqn);
		if (t)
			r = update_target(gw, t, ct, i, msg, sizeof(msg));
		else
			r = build_target(gw, ct, i, stop_on_error, msg, sizeof(msg));
		if (r < 0) {
			note_error(&first, r, err, errlen, msg);
			if (stop_on_error)
				return first;
		}
	}
	if ((r = update_portals(gw, doc, msg, sizeof(msg))) < 0)
		note_error(&first, r, err, errlen, msg);
	return first;
}

/* ------------------------------------------------------------------------
 * Dumping the model.
 * ---------------------------------------------------------------------- */

static void dump_chap(json_object *obj, const char *key, const struct chap_cred *c, unsigned flags)
{
	json_object *o;

	if (flags & CONFIG_DUMP_SECRETS) {
		if (!c->set)
			return;
		o = json_object_new_object();
		json_object_object_add(o, "user", json_object_new_string(c->user));
		json_object_object_add(o, "secret", json_object_new_string(c->secret));
	} else {
		o = json_object_new_object();
		json_object_object_add(o, "set", json_object_new_boolean(c->set));
		if (c->set)
			json_object_object_add(o, "user", json_object_new_string(c->user));
	}
	json_object_object_add(obj, key, o);
}

static json_object *dump_params(const struct target_params *p, bool only_changed)
{
	struct target_params defaults;
	json_object *o = json_object_new_object();

	target_params_defaults(&defaults);
	for (size_t i = 0; i < ARRAY_SIZE(param_table); i++) {
		const struct param_desc *d = &param_table[i];
		uint32_t value = param_get(p, d);

		if (only_changed && value == param_get(&defaults, d))
			continue;
		json_object_object_add(o, d->key, param_is_bool(d) ? json_object_new_boolean(value != 0)
								   : json_object_new_int64(value));
	}
	return o;
}

static json_object *dump_lu(struct gateway *gw, const struct lu *lu, unsigned flags)
{
	const struct lu_spec *s = &lu->spec;
	bool runtime = flags & CONFIG_DUMP_RUNTIME;
	json_object *o = json_object_new_object();

	(void)gw;
	json_object_object_add(o, "lun", json_object_new_int64((int64_t)lu->lun));
	json_object_object_add(o, "backstore", json_object_new_string(s->backstore));
	if (s->path[0])
		json_object_object_add(o, "path", json_object_new_string(s->path));
	if (s->options[0])
		json_object_object_add(o, "options", json_object_new_string(s->options));
	if (s->size)
		json_object_object_add(o, "size", size_to_json(s->size));
	if (s->thin || runtime)
		json_object_object_add(o, "thin", json_object_new_boolean(s->thin));
	if (s->removable || runtime)
		json_object_object_add(o, "removable", json_object_new_boolean(s->removable));
	if (s->readonly || runtime)
		json_object_object_add(o, "readonly", json_object_new_boolean(s->readonly));
	if (s->wwn[0])
		json_object_object_add(o, "wwn", json_object_new_string(s->wwn));
	if ((s->block_size && s->block_size != DEFAULT_BLOCK) || runtime)
		json_object_object_add(o, "block_size",
				       json_object_new_int64(s->block_size ? s->block_size : DEFAULT_BLOCK));
	if (s->phys_block_size)
		json_object_object_add(o, "phys_block_size", json_object_new_int64(s->phys_block_size));
	if (s->alua.kind != ALUA_POLICY_ALL_OPTIMIZED || runtime)
		json_object_object_add(o, "alua", dump_alua_policy(&s->alua));
	if (runtime) {
		char spec[PATH_MAX + 768], naa[33];

		config_lu_spec_format(s, spec, sizeof(spec));
		for (unsigned i = 0; i < 16; i++)
			snprintf(naa + 2 * i, 3, "%02x", lu->naa[i]);
		json_object_object_add(o, "spec", json_object_new_string(spec));
		json_object_object_add(o, "size_bytes", json_object_new_uint64(lu->size_bytes));
		json_object_object_add(o, "num_blocks", json_object_new_uint64(lu->num_blocks));
		json_object_object_add(o, "naa", json_object_new_string(naa));
		json_object_object_add(o, "serial", json_object_new_string(lu->serial));
		if (lu->removing)
			json_object_object_add(o, "removing", json_object_new_boolean(true));
		json_object_object_add(o, "backing", json_object_new_string(
			lu->backing_state == LU_BACKING_READY ? "ready" :
			lu->backing_state == LU_BACKING_OPENING ? "opening" : "failed"));
		if (lu->backing_error[0])
			json_object_object_add(o, "backing_error", json_object_new_string(lu->backing_error));
		json_object_object_add(o, "port_groups", alua_groups_json(lu));
	}
	return o;
}

static json_object *dump_acl(struct gateway *gw, const struct acl *acl, unsigned flags)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "initiator", json_object_new_string(acl->initiator));
	dump_chap(o, "chap", &acl->chap, flags);
	dump_chap(o, "mutual_chap", &acl->mutual_chap, flags);
	if (acl->map_count) {
		json_object *map = json_object_new_array();

		for (unsigned i = 0; i < acl->map_count; i++) {
			json_object *e = json_object_new_object();

			json_object_object_add(e, "mapped_lun",
					       json_object_new_int64((int64_t)acl->map[i].mapped_lun));
			json_object_object_add(e, "lun", json_object_new_int64((int64_t)acl->map[i].target_lun));
			json_object_array_add(map, e);
		}
		json_object_object_add(o, "lun_map", map);
	}
	if (flags & CONFIG_DUMP_RUNTIME)
		json_object_object_add(o, "sessions", json_object_new_int64(count_nexuses(gw, NULL, acl)));
	return o;
}

static json_object *dump_target(struct gateway *gw, struct target *t, unsigned flags)
{
	bool runtime = flags & CONFIG_DUMP_RUNTIME;
	json_object *o = json_object_new_object(), *params, *arr;
	struct lu *lu;
	struct acl *acl;

	json_object_object_add(o, "iqn", json_object_new_string(t->iqn));
	json_object_object_add(o, "demo_mode", json_object_new_boolean(t->demo_mode));
	dump_chap(o, "chap", &t->chap, flags);
	dump_chap(o, "mutual_chap", &t->mutual_chap, flags);
	params = dump_params(&t->params, !runtime);
	if (runtime || json_object_object_length(params))
		json_object_object_add(o, "params", params);
	else
		json_object_put(params);
	/* The file leaves out empty lists; the API always has them. */
	if (runtime || !TAILQ_EMPTY(&t->lus)) {
		arr = json_object_new_array();
		TAILQ_FOREACH(lu, &t->lus, link)
			json_object_array_add(arr, dump_lu(gw, lu, flags));
		json_object_object_add(o, "luns", arr);
	}
	if (runtime || !TAILQ_EMPTY(&t->acls)) {
		arr = json_object_new_array();
		TAILQ_FOREACH(acl, &t->acls, link)
			json_object_array_add(arr, dump_acl(gw, acl, flags));
		json_object_object_add(o, "acls", arr);
	}
	if (runtime) {
		json_object_object_add(o, "tpgt", json_object_new_int(t->tpgt));
		json_object_object_add(o, "sessions", json_object_new_int64(count_nexuses(gw, t, NULL)));
	}
	return o;
}

json_object *config_dump(struct gateway *gw, unsigned flags)
{
	json_object *root = json_object_new_object(), *arr;
	struct portal *p;
	struct target *t;

	if (flags & CONFIG_DUMP_RUNTIME) {
		json_object_object_add(root, "node_id", json_object_new_int64(gw->node_id));
		json_object_object_add(root, "config_version", json_object_new_int64(gw->config_version));
		json_object_object_add(root, "config_file", json_object_new_string(gw->config_path));
	}
	arr = json_object_new_array();
	TAILQ_FOREACH(p, &gw->portals, link) {
		char text[128];

		config_portal_format(p->addr, p->port, text, sizeof(text));
		json_object_array_add(arr, json_object_new_string(text));
	}
	json_object_object_add(root, "portals", arr);
	if ((flags & CONFIG_DUMP_RUNTIME) || gw->discovery_auth || gw->discovery_chap.set ||
	    gw->discovery_mutual_chap.set) {
		json_object *d = json_object_new_object();

		json_object_object_add(d, "auth", json_object_new_boolean(gw->discovery_auth));
		dump_chap(d, "chap", &gw->discovery_chap, flags);
		dump_chap(d, "mutual_chap", &gw->discovery_mutual_chap, flags);
		json_object_object_add(root, "discovery", d);
	}
	arr = json_object_new_array();
	TAILQ_FOREACH(t, &gw->targets, link)
		json_object_array_add(arr, dump_target(gw, t, flags));
	json_object_object_add(root, "targets", arr);
	return root;
}

char *config_serialize(struct gateway *gw)
{
	json_object *root = config_dump(gw, CONFIG_DUMP_SECRETS);
	const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							  JSON_C_TO_STRING_SPACED |
							  JSON_C_TO_STRING_NOSLASHESCAPE);
	char *copy = NULL;

	if (text && asprintf(&copy, "%s\n", text) < 0)
		copy = NULL;
	json_object_put(root);
	return copy;
}

int config_save(struct gateway *gw, char *err, size_t errlen)
{
	char *text;
	int r;

	if (!gw->config_path[0])
		return 0;
	text = config_serialize(gw);
	if (!text)
		return failf(-ENOMEM, err, errlen, NULL, "cannot serialize the configuration");
	r = write_file_atomic(gw->config_path, text, strlen(text));
	free(text);
	if (r < 0)
		return failf(r, err, errlen, NULL, "cannot write %s: %s", gw->config_path, strerror(-r));
	return 0;
}

/* ------------------------------------------------------------------------
 * Startup, shutdown, reload.
 * ---------------------------------------------------------------------- */

int config_load_text(struct gateway *gw, const char *text, size_t len, char *err, size_t errlen)
{
	struct cfg_doc doc;
	json_object *root = parse_json_text(text, len, err, errlen);
	int r;

	if (!root)
		return -EINVAL;
	r = parse_doc(root, &doc, err, errlen);
	json_object_put(root);
	if (r == 0 && !TAILQ_EMPTY(&gw->targets))
		r = failf(-EBUSY, err, errlen, NULL, "the gateway already has targets");
	if (r == 0)
		r = apply_doc(gw, &doc, true, err, errlen);
	doc_free(&doc);
	return r;
}

int config_load(struct gateway *gw, const char *path, char *err, size_t errlen)
{
	char abs[PATH_MAX], msg[1024], *text = NULL;
	size_t len = 0;
	int r;

	if (path[0] != '/') {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)) ||
		    (size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, path) >= sizeof(abs))
			return failf(-ENAMETOOLONG, err, errlen, NULL, "%s: path too long", path);
	} else if (str_copy(abs, path, sizeof(abs)) >= sizeof(abs)) {
		return failf(-ENAMETOOLONG, err, errlen, NULL, "%s: path too long", path);
	}
	r = read_text_file(abs, &text, &len);
	if (r == -ENOENT) {
		log_warn("config: %s does not exist yet; starting empty, it is written on the first change",
			 abs);
		text = strdup("{}");
		len = 2;
		if (!text)
			return -ENOMEM;
	} else if (r < 0) {
		return failf(r, err, errlen, NULL, "cannot read %s: %s", abs, strerror(-r));
	}
	r = config_load_text(gw, text, len, msg, sizeof(msg));
	free(text);
	if (r < 0)
		return failf(r, err, errlen, NULL, "%s: %s", abs, msg);
	str_copy(gw->config_path, abs, sizeof(gw->config_path));
	log_info("config: loaded %s", abs);
	return 0;
}

void config_model_clear(struct gateway *gw)
{
	struct target *t;
	struct portal *p;

	while ((t = TAILQ_FIRST(&gw->targets)))
		target_destroy(t);
	while ((p = TAILQ_FIRST(&gw->portals))) {
		TAILQ_REMOVE(&gw->portals, p, link);
		free(p);
	}
}

int config_reload_submit(struct gateway *gw, cluster_done_fn done, void *ctx,
			 char *err, size_t errlen)
{
	struct cfg_doc doc;
	json_object *root, *req;
	const char *payload;
	char msg[1024], *text = NULL;
	size_t len = 0;
	int r;

	if (!gw->config_path[0])
		return failf(-ENOENT, err, errlen, NULL,
			     "no configuration file in use (sangwd was started without --config)");
	/* Unlike at startup, a missing file is an error: it would remove everything. */
	if ((r = read_text_file(gw->config_path, &text, &len)) < 0)
		return failf(r, err, errlen, NULL, "cannot read %s: %s", gw->config_path, strerror(-r));
	root = parse_json_text(text, len, msg, sizeof(msg));
	free(text);
	if (!root)
		return failf(-EINVAL, err, errlen, NULL, "%s: %s", gw->config_path, msg);
	r = parse_doc(root, &doc, msg, sizeof(msg));
	if (r < 0) {
		doc_free(&doc);
		json_object_put(root);
		return failf(r, err, errlen, NULL, "%s: %s", gw->config_path, msg);
	}
	if (!gw->cluster) {
		doc_free(&doc);
		json_object_put(root);
		return failf(-ENOTCONN, err, errlen, NULL, "no cluster service");
	}
	/* Portals are where this node listens: the file's portals apply here
	 * at once; the rest goes to every node (which keep their own). */
	r = update_portals(gw, &doc, msg, sizeof(msg));
	doc_free(&doc);
	if (r < 0) {
		json_object_put(root);
		return failf(r, err, errlen, NULL, "%s: %s", gw->config_path, msg);
	}
	json_object_object_del(root, "portals");
	req = json_object_new_object();
	json_object_object_add(req, "request", json_object_new_string("config_replace"));
	json_object_object_add(req, "config", root);
	payload = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	r = cluster_submit(gw->cluster, SOP_CONFIG, payload, (uint32_t)strlen(payload), done, ctx);
	json_object_put(req);
	if (r < 0)
		return failf(r, err, errlen, NULL, "cannot submit the reload: %s",
			     r == -EAGAIN ? "the cluster is not quorate" : strerror(-r));
	return 0;
}

static void reload_done(void *ctx, int result)
{
	struct gateway *gw = ctx;

	if (result == 0)
		log_info("config: reloaded %s (configuration version %u)", gw->config_path,
			 gw->config_version);
	else
		log_error("config: reload of %s failed: %s", gw->config_path, strerror(-result));
}

int config_reload(struct gateway *gw, char *err, size_t errlen)
{
	return config_reload_submit(gw, reload_done, gw, err, errlen);
}

/* ------------------------------------------------------------------------
 * Management requests that change the configuration.
 * Each handler validates everything first; in REQ_CHECK mode (origin,
 * before submitting) it stops there, possibly completing the request; in
 * REQ_APPLY mode (every node, in delivery order) it then edits the model.
 * ---------------------------------------------------------------------- */

enum req_mode { REQ_CHECK, REQ_APPLY };

typedef int (*req_fn)(struct gateway *gw, json_object *req, enum req_mode mode,
		      char *err, size_t errlen);

static int req_string(json_object *req, const char *key, bool required, char *out, size_t size,
		      char *err, size_t errlen)
{
	json_object *v = member(req, key);

	if (!v) {
		out[0] = '\0';
		return required ? failf(-EINVAL, err, errlen, key, "missing") : 0;
	}
	return get_string(v, key, out, size, err, errlen);
}

static int req_target(struct gateway *gw, json_object *req, struct target **t, char *err, size_t errlen)
{
	char iqn[ISCSI_NAME_MAX];
	int r;

	if ((r = req_string(req, "target", true, iqn, sizeof(iqn), err, errlen)) < 0)
		return r;
	*t = gw_find_target(gw, iqn);
	if (!*t)
		return failf(-ENOENT, err, errlen, "target", "no target \"%s\"", iqn);
	return 0;
}

static int req_lun(json_object *req, bool required, bool *has, uint64_t *lun, char *err, size_t errlen)
{
	json_object *v = member(req, "lun");

	*has = v != NULL;
	if (!v)
		return required ? failf(-EINVAL, err, errlen, "lun", "missing") : 0;
	return get_uint(v, "lun", 0, MAX_LUNS_PER_TARGET - 1, lun, err, errlen);
}

static int req_existing_lu(struct gateway *gw, json_object *req, struct target **t, struct lu **lu,
			   char *err, size_t errlen)
{
	uint64_t lun;
	bool has;
	int r;

	if ((r = req_target(gw, req, t, err, errlen)) < 0 ||
	    (r = req_lun(req, true, &has, &lun, err, errlen)) < 0)
		return r;
	*lu = target_find_lu(*t, lun);
	if (!*lu)
		return failf(-ENOENT, err, errlen, "lun", "target %s has no LUN %llu", (*t)->iqn,
			     (unsigned long long)lun);
	return 0;
}

static int req_target_add(struct gateway *gw, json_object *req, enum req_mode mode,
			  char *err, size_t errlen)
{
	struct cfg_target ct;
	struct target *t;
	json_object *f;
	int r;

	memset(&ct, 0, sizeof(ct));
	if ((r = req_string(req, "target", true, ct.iqn, sizeof(ct.iqn), err, errlen)) < 0 ||
	    (r = check_name(ct.iqn, "target", err, errlen)) < 0)
		return r;
	if (gw_find_target(gw, ct.iqn))
		return failf(-EEXIST, err, errlen, "target", "target \"%s\" already exists", ct.iqn);
	if ((f = member(req, "demo_mode")) && (r = get_bool_ex(f, "demo_mode", true, &ct.demo_mode, err, errlen)) < 0)
		return r;
	if ((f = member(req, "chap")) && (r = parse_chap(f, "chap", &ct.chap, err, errlen)) < 0)
		return r;
	if ((f = member(req, "mutual_chap")) && (r = parse_chap(f, "mutual_chap", &ct.mutual_chap, err, errlen)) < 0)
		return r;
	if ((r = check_chap_pair(&ct.chap, &ct.mutual_chap, "mutual_chap", err, errlen)) < 0)
		return r;
	target_params_defaults(&ct.params);
	if ((f = member(req, "params")) && (r = parse_params(f, "params", &ct.params, err, errlen)) < 0)
		return r;
	if (mode == REQ_CHECK)
		return 0;
	t = target_create(gw, ct.iqn);
	if (!t)
		return failf(-ENOMEM, err, errlen, "target", "cannot create target %s", ct.iqn);
	t->demo_mode = ct.demo_mode;
	t->chap = ct.chap;
	t->mutual_chap = ct.mutual_chap;
	t->params = ct.params;
	log_info("config: added target %s", t->iqn);
	return 0;
}

static int req_target_del(struct gateway *gw, json_object *req, enum req_mode mode,
			  char *err, size_t errlen)
{
	struct target *t;
	int r;

	if ((r = req_target(gw, req, &t, err, errlen)) < 0 || mode == REQ_CHECK)
		return r;
	target_remove(gw, t);
	return 0;
}

static int req_lun_add(struct gateway *gw, json_object *req, enum req_mode mode,
		       char *err, size_t errlen)
{
	struct target *t;
	struct lu_spec spec;
	struct lu *user;
	json_object *spec_text = member(req, "spec"), *f;
	uint64_t lun = 0, ignored;
	bool has_lun, ignored_has;
	int r;

	if ((r = req_target(gw, req, &t, err, errlen)) < 0 ||
	    (r = req_lun(req, false, &has_lun, &lun, err, errlen)) < 0)
		return r;
	if (spec_text) {
		char text[PATH_MAX + 768], why[256] = "";

		for (const char *const *k = lu_keys + 1; *k; k++)
			if (strcmp(*k, "alua") != 0 && member(req, *k))
				return failf(-EINVAL, err, errlen, *k,
					     "give either \"spec\" or separate LU fields, not both");
		if ((r = get_string(spec_text, "spec", text, sizeof(text), err, errlen)) < 0)
			return r;
		memset(&spec, 0, sizeof(spec));
		if (lu_spec_parse(text, &spec, why, sizeof(why)) < 0)
			return failf(-EINVAL, err, errlen, "spec", "%s", why[0] ? why : "invalid LU spec");
		if ((r = validate_lu_spec(&spec, "spec", err, errlen)) < 0)
			return r;
		if ((f = member(req, "alua")) && (r = parse_alua_policy(f, "alua", &spec.alua, err, errlen)) < 0)
			return r;
	} else if ((r = parse_lu_fields(req, "", false, &spec, &ignored_has, &ignored, err, errlen)) < 0) {
		return r;
	}
	if (has_lun && target_find_lu(t, lun))
		return failf(-EEXIST, err, errlen, "lun", "target %s already has LUN %llu", t->iqn,
			     (unsigned long long)lun);
	if (!has_lun && lowest_free_lun(t, &lun) < 0)
		return failf(-ENOSPC, err, errlen, "lun", "target %s has no free LUN", t->iqn);
	if (spec.path[0] && (user = find_backing_user(gw, spec.backstore, spec.path)))
		return failf(-EEXIST, err, errlen, spec_text ? "spec" : "path",
			     "\"%s\" is already exported as LUN %llu of %s", spec.path,
			     (unsigned long long)user->lun, user->target->iqn);
	if (mode == REQ_CHECK) {
		struct stat st;

		/* Catch the usual mistakes here, where the admin gets the message. */
		if (strcmp(spec.backstore, "file") == 0) {
			if (stat(spec.path, &st) == 0) {
				if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
					return failf(-EINVAL, err, errlen, spec_text ? "spec" : "path",
						     "%s is not a regular file or block device", spec.path);
			} else if (spec.size == 0) {
				return failf(-ENOENT, err, errlen, spec_text ? "spec" : "path",
					     "%s: %s (give a size to create it)", spec.path, strerror(errno));
			}
		}
		if (!has_lun)
			json_object_object_add(req, "lun", json_object_new_int64((int64_t)lun));
		return 0;
	}
	if (!create_lu(t, lun, &spec, "", err, errlen))
		return -EIO;
	log_info("config: added LUN %llu to %s", (unsigned long long)lun, t->iqn);
	ua_luns_changed(gw, t);
	return 0;
}

static int req_lun_del(struct gateway *gw, json_object *req, enum req_mode mode,
		       char *err, size_t errlen)
{
	struct target *t;
	struct lu *lu;
	struct acl *acl;
	int r;

	if ((r = req_existing_lu(gw, req, &t, &lu, err, errlen)) < 0)
		return r;
	/* An ACL whose map loses its last entry would see every LU (an empty
	 * map means "all"), so mapped LUs cannot go first. */
	TAILQ_FOREACH(acl, &t->acls, link)
		for (unsigned i = 0; i < acl->map_count; i++)
			if (acl->map[i].target_lun == lu->lun)
				return failf(-EBUSY, err, errlen, "lun",
					     "LUN %llu is mapped for %s; delete that ACL first",
					     (unsigned long long)lu->lun, acl->initiator);
	if (mode == REQ_CHECK)
		return 0;
	lu_remove(lu);
	ua_luns_changed(gw, t);
	return 0;
}

static int req_lun_resize(struct gateway *gw, json_object *req, enum req_mode mode,
			  char *err, size_t errlen)
{
	struct target *t;
	struct lu *lu;
	json_object *f;
	uint64_t size;
	bool shrink = false;
	char why[256] = "";
	int r;

	if ((r = req_existing_lu(gw, req, &t, &lu, err, errlen)) < 0)
		return r;
	if (!(f = member(req, "size")))
		return failf(-EINVAL, err, errlen, "size", "missing");
	if ((r = get_size(f, "size", &size, err, errlen)) < 0)
		return r;
	if ((f = member(req, "shrink")) && (r = get_bool_ex(f, "shrink", true, &shrink, err, errlen)) < 0)
		return r;
	if (size == 0 || size % lu->block_size)
		return failf(-EINVAL, err, errlen, "size", "%llu is not a positive multiple of the block size %u",
			     (unsigned long long)size, lu->block_size);
	if (size < lu->size_bytes && !shrink)
		return failf(-EINVAL, err, errlen, "size",
			     "%llu is smaller than the current %llu bytes; shrinking loses data, "
			     "ask for it explicitly (\"shrink\": true, gwcli --shrink)",
			     (unsigned long long)size, (unsigned long long)lu->size_bytes);
	if (mode == REQ_CHECK)
		return 0;
	if ((r = lu_resize(lu, size, why, sizeof(why))) < 0)
		return failf(-EIO, err, errlen, "size", "cannot resize: %s", why);
	lu->spec.size = size;
	if (r == 1) {
		/* The backstore resizes off-loop and raises the UA itself. */
		log_info("config: resizing LUN %llu of %s to %llu bytes", (unsigned long long)lu->lun,
			 t->iqn, (unsigned long long)size);
		return 0;
	}
	log_info("config: resized LUN %llu of %s to %llu bytes", (unsigned long long)lu->lun, t->iqn,
		 (unsigned long long)size);
	/* SBC-3 4.6: a changed capacity is reported as a unit attention. */
	ua_establish_lu(gw, lu, 0, ASC_CAPACITY_DATA_HAS_CHANGED);
	return 0;
}

static int req_acl_add(struct gateway *gw, json_object *req, enum req_mode mode,
		       char *err, size_t errlen)
{
	static const char *const extra[] = { "request", "id", "target", NULL };
	struct target *t;
	struct acl acl;
	int r;

	if ((r = req_target(gw, req, &t, err, errlen)) < 0 ||
	    (r = parse_acl(req, "", extra, &acl, err, errlen)) < 0)
		return r;
	if (target_find_acl(t, acl.initiator))
		return failf(-EEXIST, err, errlen, "initiator", "%s already has an ACL for %s", t->iqn,
			     acl.initiator);
	for (unsigned i = 0; i < acl.map_count; i++)
		if (!target_find_lu(t, acl.map[i].target_lun))
			return failf(-ENOENT, err, errlen, "lun_map", "target %s has no LUN %llu", t->iqn,
				     (unsigned long long)acl.map[i].target_lun);
	if (mode == REQ_CHECK)
		return 0;
	if (!acl_insert(t, &acl))
		return failf(-ENOMEM, err, errlen, NULL, "out of memory");
	log_info("config: added ACL %s to %s", acl.initiator, t->iqn);
	return 0;
}

static int req_acl_del(struct gateway *gw, json_object *req, enum req_mode mode,
		       char *err, size_t errlen)
{
	char initiator[ISCSI_NAME_MAX];
	struct target *t;
	struct acl *acl;
	int r;

	if ((r = req_target(gw, req, &t, err, errlen)) < 0 ||
	    (r = req_string(req, "initiator", true, initiator, sizeof(initiator), err, errlen)) < 0)
		return r;
	acl = target_find_acl(t, initiator);
	if (!acl)
		return failf(-ENOENT, err, errlen, "initiator", "%s has no ACL for %s", t->iqn, initiator);
	if (mode == REQ_CHECK)
		return 0;
	acl_remove(gw, t, acl);
	return 0;
}

/* Where a CHAP request points: discovery, a target, or one of its ACLs. */
static int req_chap_scope(struct gateway *gw, json_object *req, struct chap_cred **one_way,
			  struct chap_cred **mutual, bool *discovery, char *err, size_t errlen)
{
	char initiator[ISCSI_NAME_MAX];
	struct target *t;
	struct acl *acl;
	json_object *f;
	int r;

	*discovery = false;
	if ((f = member(req, "discovery")) && (r = get_bool_ex(f, "discovery", true, discovery, err, errlen)) < 0)
		return r;
	if (*discovery) {
		if (member(req, "target") || member(req, "initiator"))
			return failf(-EINVAL, err, errlen, member(req, "target") ? "target" : "initiator",
				     "not used with \"discovery\": true");
		*one_way = &gw->discovery_chap;
		*mutual = &gw->discovery_mutual_chap;
		return 0;
	}
	if ((r = req_target(gw, req, &t, err, errlen)) < 0 ||
	    (r = req_string(req, "initiator", false, initiator, sizeof(initiator), err, errlen)) < 0)
		return r;
	if (!initiator[0]) {
		*one_way = &t->chap;
		*mutual = &t->mutual_chap;
		return 0;
	}
	acl = target_find_acl(t, initiator);
	if (!acl)
		return failf(-ENOENT, err, errlen, "initiator", "%s has no ACL for %s", t->iqn, initiator);
	*one_way = &acl->chap;
	*mutual = &acl->mutual_chap;
	return 0;
}

static int req_chap_set(struct gateway *gw, json_object *req, enum req_mode mode,
			char *err, size_t errlen)
{
	struct chap_cred *one_way, *mutual, new_one, new_mutual;
	char user[CHAP_NAME_MAX + 1], secret[CHAP_SECRET_MAX + 1];
	bool discovery, required = true;
	json_object *f;
	int r;

	memset(&new_mutual, 0, sizeof(new_mutual));
	if ((r = req_chap_scope(gw, req, &one_way, &mutual, &discovery, err, errlen)) < 0)
		return r;
	if ((r = req_string(req, "user", true, user, sizeof(user), err, errlen)) < 0 ||
	    (r = req_string(req, "secret", true, secret, sizeof(secret), err, errlen)) < 0 ||
	    (r = chap_fill(&new_one, user, secret, "user", "secret", err, errlen)) < 0)
		return r;
	if (member(req, "mutual_user") || member(req, "mutual_secret")) {
		if ((r = req_string(req, "mutual_user", true, user, sizeof(user), err, errlen)) < 0 ||
		    (r = req_string(req, "mutual_secret", true, secret, sizeof(secret), err, errlen)) < 0 ||
		    (r = chap_fill(&new_mutual, user, secret, "mutual_user", "mutual_secret", err, errlen)) < 0 ||
		    (r = check_chap_pair(&new_one, &new_mutual, "mutual_secret", err, errlen)) < 0)
			return r;
	}
	if ((f = member(req, "required"))) {
		if (!discovery)
			return failf(-EINVAL, err, errlen, "required", "only used with \"discovery\": true");
		if ((r = get_bool_ex(f, "required", true, &required, err, errlen)) < 0)
			return r;
	}
	if (mode == REQ_CHECK)
		return 0;
	*one_way = new_one;
	*mutual = new_mutual;
	if (discovery)
		gw->discovery_auth = required;
	return 0;
}

static int req_chap_clear(struct gateway *gw, json_object *req, enum req_mode mode,
			  char *err, size_t errlen)
{
	struct chap_cred *one_way, *mutual;
	bool discovery, mutual_only = false;
	json_object *f;
	int r;

	if ((r = req_chap_scope(gw, req, &one_way, &mutual, &discovery, err, errlen)) < 0)
		return r;
	if ((f = member(req, "mutual_only")) &&
	    (r = get_bool_ex(f, "mutual_only", true, &mutual_only, err, errlen)) < 0)
		return r;
	if (mode == REQ_CHECK)
		return 0;
	memset(mutual, 0, sizeof(*mutual));
	if (!mutual_only) {
		memset(one_way, 0, sizeof(*one_way));
		if (discovery)
			gw->discovery_auth = false;
	}
	return 0;
}

static int req_portal(json_object *req, char *addr, size_t addrlen, uint16_t *port,
		      char *err, size_t errlen)
{
	char text[128], why[256];
	int r;

	if ((r = req_string(req, "portal", true, text, sizeof(text), err, errlen)) < 0)
		return r;
	if (config_portal_parse(text, addr, addrlen, port, why, sizeof(why)) < 0)
		return failf(-EINVAL, err, errlen, "portal", "%s", why);
	return 0;
}

static int req_portal_add(struct gateway *gw, json_object *req, enum req_mode mode,
			  char *err, size_t errlen)
{
	char addr[64], why[256] = "";
	uint16_t port;
	struct portal *p;
	int r;

	if ((r = req_portal(req, addr, sizeof(addr), &port, err, errlen)) < 0)
		return r;
	if (find_portal(gw, addr, port))
		return failf(-EEXIST, err, errlen, "portal", "already listening there");
	if (mode == REQ_CHECK)
		return 0;
	if (!(p = calloc(1, sizeof(*p))))
		return failf(-ENOMEM, err, errlen, NULL, "out of memory");
	str_copy(p->addr, addr, sizeof(p->addr));
	p->port = port;
	TAILQ_INSERT_TAIL(&gw->portals, p, link);
	if ((r = notify_portals(gw, why, sizeof(why))) != 0) {
		TAILQ_REMOVE(&gw->portals, p, link);
		free(p);
		notify_portals(gw, NULL, 0);
		return failf(r, err, errlen, "portal", "cannot listen: %s", why);
	}
	return 0;
}

static int req_portal_del(struct gateway *gw, json_object *req, enum req_mode mode,
			  char *err, size_t errlen)
{
	char addr[64], why[256] = "";
	uint16_t port;
	struct portal *p;
	int r;

	if ((r = req_portal(req, addr, sizeof(addr), &port, err, errlen)) < 0)
		return r;
	if (!(p = find_portal(gw, addr, port)))
		return failf(-ENOENT, err, errlen, "portal", "no such portal");
	if (mode == REQ_CHECK)
		return 0;
	TAILQ_REMOVE(&gw->portals, p, link);
	if ((r = notify_portals(gw, why, sizeof(why))) != 0) {
		TAILQ_INSERT_TAIL(&gw->portals, p, link);
		notify_portals(gw, NULL, 0);
		return failf(r, err, errlen, "portal", "cannot stop listening: %s", why);
	}
	free(p);
	return 0;
}

static int req_param_set(struct gateway *gw, json_object *req, enum req_mode mode,
			 char *err, size_t errlen)
{
	const struct param_desc *d;
	struct target_params params;
	struct target *t;
	char key[64];
	json_object *value;
	int r;

	if ((r = req_target(gw, req, &t, err, errlen)) < 0 ||
	    (r = req_string(req, "key", true, key, sizeof(key), err, errlen)) < 0)
		return r;
	if (!(value = member(req, "value")))
		return failf(-EINVAL, err, errlen, "value", "missing");
	if (strcasecmp(key, "demo_mode") == 0) {
		bool on;

		if ((r = get_bool_ex(value, "value", true, &on, err, errlen)) < 0 || mode == REQ_CHECK)
			return r;
		return set_demo_mode(gw, t, on);
	}
	if (!(d = param_find(key, true)))
		return failf(-EINVAL, err, errlen, "key", "unknown parameter \"%s\"", key);
	params = t->params;
	if ((r = param_value(d, value, "value", &params, err, errlen)) < 0 ||
	    (r = params_check(&params, "", err, errlen)) < 0)
		return r;
	if (mode == REQ_CHECK)
		return 0;
	t->params = params;   /* used by the next logins */
	return 0;
}

static int req_config_replace(struct gateway *gw, json_object *req, enum req_mode mode,
			      char *err, size_t errlen)
{
	struct cfg_doc doc;
	json_object *config = member(req, "config");
	int r;

	if (!config)
		return failf(-EINVAL, err, errlen, "config", "missing");
	r = parse_doc(config, &doc, err, errlen);
	if (r == 0 && mode == REQ_APPLY)
		r = apply_doc(gw, &doc, false, err, errlen);
	doc_free(&doc);
	return r;
}

struct req_handler {
	const char *name;
	req_fn fn;
	const char *const *keys;
};

static const char *const keys_target_add[] = { "target", "demo_mode", "chap", "mutual_chap", "params", NULL };
static const char *const keys_target[] = { "target", NULL };
static const char *const keys_lun_add[] = {
	"target", "lun", "spec", "backstore", "path", "size", "thin", "removable", "readonly",
	"wwn", "block_size", "alua", "options", NULL,
};
static const char *const keys_lun[] = { "target", "lun", NULL };
static const char *const keys_lun_resize[] = { "target", "lun", "size", "shrink", NULL };
static const char *const keys_acl_add[] = { "target", "initiator", "chap", "mutual_chap", "lun_map", NULL };
static const char *const keys_acl[] = { "target", "initiator", NULL };
static const char *const keys_chap_set[] = {
	"discovery", "target", "initiator", "user", "secret", "mutual_user", "mutual_secret",
	"required", NULL,
};
static const char *const keys_chap_clear[] = { "discovery", "target", "initiator", "mutual_only", NULL };
static const char *const keys_portal[] = { "portal", NULL };
static const char *const keys_param_set[] = { "target", "key", "value", NULL };
static const char *const keys_config_replace[] = { "config", NULL };

static const struct req_handler handlers[] = {
	{ "target_add", req_target_add, keys_target_add },
	{ "target_del", req_target_del, keys_target },
	{ "lun_add", req_lun_add, keys_lun_add },
	{ "lun_del", req_lun_del, keys_lun },
	{ "lun_resize", req_lun_resize, keys_lun_resize },
	{ "acl_add", req_acl_add, keys_acl_add },
	{ "acl_del", req_acl_del, keys_acl },
	{ "chap_set", req_chap_set, keys_chap_set },
	{ "chap_clear", req_chap_clear, keys_chap_clear },
	{ "portal_add", req_portal_add, keys_portal },
	{ "portal_del", req_portal_del, keys_portal },
	{ "param_set", req_param_set, keys_param_set },
	{ "config_replace", req_config_replace, keys_config_replace },
};

static const struct req_handler *find_handler(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(handlers); i++)
		if (strcmp(handlers[i].name, name) == 0)
			return &handlers[i];
	return NULL;
}

bool config_is_change_request(const char *name)
{
	return find_handler(name) != NULL;
}

static int run_request(struct gateway *gw, json_object *req, enum req_mode mode,
		       const struct req_handler **which, char *err, size_t errlen)
{
	static const char *const common[] = { "request", "id", NULL };
	const struct req_handler *h;
	char name[64];
	int r;

	*which = NULL;
	if (json_object_get_type(req) != json_type_object)
		return failf(-EINVAL, err, errlen, NULL, "a request must be a JSON object");
	if ((r = req_string(req, "request", true, name, sizeof(name), err, errlen)) < 0)
		return r;
	if (!(h = find_handler(name)))
		return failf(-EINVAL, err, errlen, "request", "\"%s\" is not a configuration request", name);
	*which = h;
	if ((r = check_keys(req, "", h->keys, common, err, errlen)) < 0)
		return r;
	return h->fn(gw, req, mode, err, errlen);
}

int config_prepare_request(struct gateway *gw, json_object *req, char *err, size_t errlen)
{
	const struct req_handler *h;

	return run_request(gw, req, REQ_CHECK, &h, err, errlen);
}

int config_apply_request(struct gateway *gw, const char *text, size_t len, char *err, size_t errlen)
{
	const struct req_handler *h;
	json_object *req = parse_json_text(text, len, err, errlen);
	char why[512];
	int r;

	if (!req)
		return -EINVAL;
	r = run_request(gw, req, REQ_APPLY, &h, err, errlen);
	json_object_put(req);
	if (r < 0)
		return r;
	gw->config_version++;
	log_info("config: applied %s (configuration version %u)", h->name, gw->config_version);
	if (config_save(gw, why, sizeof(why)) < 0)
		log_error("config: %s", why);   /* the running model stays changed */
	return 0;
}

bool config_is_node_local_request(const char *name)
{
	return strcmp(name, "portal_add") == 0 || strcmp(name, "portal_del") == 0;
}

int config_apply_local_request(struct gateway *gw, struct json_object *req, char *err,
			       size_t errlen)
{
	const struct req_handler *h;
	char why[512];
	int r = run_request(gw, req, REQ_APPLY, &h, err, errlen);

	if (r < 0)
		return r;
	if (!config_is_node_local_request(h->name))
		return failf(-EINVAL, err, errlen, "request", "\"%s\" is not a node-local request",
			     h->name);
	/* Not a replicated change: gw->config_version (the same on every
	 * node) stays as it is; the file keeps this node's portals. */
	log_info("config: applied %s on this node only", h->name);
	if (config_save(gw, why, sizeof(why)) < 0)
		log_error("config: %s", why);
	return 0;
}

int config_apply(struct gateway *gw, const void *payload, uint32_t len)
{
	char err[1024];
	int r = config_apply_request(gw, payload, len, err, sizeof(err));

	if (r < 0)
		log_warn("config: change refused: %s", err);
	return r;
}
