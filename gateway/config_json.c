/* The JSON side of the configuration: typed getters whose errors name the
 * JSON path of the offending field ("targets[3].luns[0].size: ..."),
 * strict parsing of JSON text, and reading the file. */
#include "config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

__attribute__((format(printf, 5, 6)))
int cfg_failf(int code, char *err, size_t errlen, const char *path, const char *fmt, ...)
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

void cfg_path_key(char *out, const char *parent, const char *key)
{
	out[0] = '\0';
	if (parent && *parent) {
		path_append(out, parent);
		path_append(out, ".");
	}
	path_append(out, key);
}

void cfg_path_index(char *out, const char *parent, unsigned index)
{
	char suffix[16];

	snprintf(suffix, sizeof(suffix), "[%u]", index);
	out[0] = '\0';
	path_append(out, parent);
	path_append(out, suffix);
}

/* A value as JSON text for messages, cut short when long. */
const char *cfg_json_brief(json_object *v, char *buf, size_t len)
{
	const char *text = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE);

	if (strlen(text) + 1 > len && len > 4)
		snprintf(buf, len, "%.*s...", (int)(len - 4), text);
	else
		snprintf(buf, len, "%s", text);
	return buf;
}

const char *cfg_json_type_text(json_object *v)
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
json_object *cfg_member(json_object *obj, const char *key)
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
int cfg_check_keys(json_object *obj, const char *path, const char *const *allowed,
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
		cfg_path_key(p, path, key);
		return cfg_failf(-EINVAL, err, errlen, p, "unknown key (expected one of: %s)", list);
	}
	return 0;
}

int cfg_want_object(json_object *v, const char *path, char *err, size_t errlen)
{
	if (json_object_get_type(v) != json_type_object)
		return cfg_failf(-EINVAL, err, errlen, path, "must be an object, not %s", cfg_json_type_text(v));
	return 0;
}

int cfg_want_array(json_object *v, const char *path, char *err, size_t errlen)
{
	if (json_object_get_type(v) != json_type_array)
		return cfg_failf(-EINVAL, err, errlen, path, "must be an array, not %s", cfg_json_type_text(v));
	return 0;
}

/* A string of 1..size-1 bytes without control characters. */
int cfg_get_string(json_object *v, const char *path, char *out, size_t size,
		   char *err, size_t errlen)
{
	const char *s;
	size_t len;

	if (json_object_get_type(v) != json_type_string)
		return cfg_failf(-EINVAL, err, errlen, path, "must be a string, not %s", cfg_json_type_text(v));
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (len == 0)
		return cfg_failf(-EINVAL, err, errlen, path, "must not be empty");
	if (len >= size)
		return cfg_failf(-EINVAL, err, errlen, path, "is longer than %zu bytes", size - 1);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return cfg_failf(-EINVAL, err, errlen, path, "contains a control character");
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
int cfg_get_bool_ex(json_object *v, const char *path, bool lenient_strings, bool *out,
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
	return cfg_failf(-EINVAL, err, errlen, path, "%s is not a boolean (true or false)",
			 cfg_json_brief(v, buf, sizeof(buf)));
}

int cfg_get_bool(json_object *v, const char *path, bool *out, char *err, size_t errlen)
{
	return cfg_get_bool_ex(v, path, false, out, err, errlen);
}

/* A non-negative integer in [min, max]; decimal strings are accepted too. */
int cfg_get_uint(json_object *v, const char *path, uint64_t min, uint64_t max,
		 uint64_t *out, char *err, size_t errlen)
{
	char buf[64];
	uint64_t value;

	if (json_object_get_type(v) == json_type_int) {
		if (json_object_get_int64(v) < 0)
			return cfg_failf(-EINVAL, err, errlen, path, "%s must not be negative",
					 cfg_json_brief(v, buf, sizeof(buf)));
		value = json_object_get_uint64(v);
	} else if (json_object_get_type(v) == json_type_string) {
		const char *s = json_object_get_string(v);
		char *end;

		errno = 0;
		value = strtoull(s, &end, 10);
		if (!isdigit((unsigned char)*s) || *end || errno)
			return cfg_failf(-EINVAL, err, errlen, path, "%s is not a number",
					 cfg_json_brief(v, buf, sizeof(buf)));
	} else {
		return cfg_failf(-EINVAL, err, errlen, path, "%s is not a number",
				 cfg_json_brief(v, buf, sizeof(buf)));
	}
	if (value < min || value > max)
		return cfg_failf(-ERANGE, err, errlen, path, "%llu is out of range (%llu to %llu)",
				 (unsigned long long)value, (unsigned long long)min,
				 (unsigned long long)max);
	*out = value;
	return 0;
}

/* Bytes: a number, or a string with a binary K/M/G/T suffix ("10G"). */
int cfg_get_size(json_object *v, const char *path, uint64_t *out, char *err, size_t errlen)
{
	char buf[64];

	if (json_object_get_type(v) == json_type_int && json_object_get_int64(v) >= 0) {
		*out = json_object_get_uint64(v);
		return 0;
	}
	if (json_object_get_type(v) == json_type_string &&
	    parse_size(json_object_get_string(v), out) == 0)
		return 0;
	return cfg_failf(-EINVAL, err, errlen, path, "%s is not a size", cfg_json_brief(v, buf, sizeof(buf)));
}

/* "10G" when exact, else the plain number (as JSON). */
json_object *cfg_size_to_json(uint64_t bytes)
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

json_object *cfg_parse_json_text(const char *text, size_t len, char *err, size_t errlen)
{
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	json_object *obj;
	size_t end;

	if (len > INT32_MAX) {
		cfg_failf(-E2BIG, err, errlen, NULL, "JSON text too large");
		return NULL;
	}
	if (memchr(text, '\0', len)) {
		cfg_failf(-EINVAL, err, errlen, NULL, "JSON text contains a NUL byte");
		return NULL;
	}
	tok = json_tokener_new_ex(64);
	if (!tok) {
		cfg_failf(-ENOMEM, err, errlen, NULL, "out of memory");
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
			cfg_failf(-EINVAL, err, errlen, NULL, "JSON text ends too early (line %u)", line);
		else
			cfg_failf(-EINVAL, err, errlen, NULL, "JSON syntax error at line %u, column %u: %s",
				  line, column, json_tokener_error_desc(jerr));
	}
	json_tokener_free(tok);
	return obj;
}

json_object *config_json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	return cfg_parse_json_text(text, len, err, errlen);
}

int cfg_read_text_file(const char *path, char **text, size_t *len)
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
