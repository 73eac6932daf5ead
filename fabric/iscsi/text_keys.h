/* Text key=value lists (RFC 7143 section 6): NUL-separated pairs in Login
 * and Text data segments. Parsing keeps keys in arrival order; formatting
 * writes "key=value\0" for each. */
#ifndef SANGW_ISCSI_TEXT_KEYS_H
#define SANGW_ISCSI_TEXT_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TEXT_KEY_MAX   64     /* 6.1: key names are at most 63 bytes */
#define TEXT_VALUE_MAX 8192   /* 6.1: values are at most 8192 bytes (incl. NUL) */

struct text_kv {
	char *key;
	char *value;
};

struct text_kv_list {
	struct text_kv *items;
	unsigned count, cap;
};

void text_kv_init(struct text_kv_list *l);
void text_kv_free(struct text_kv_list *l);
/* Parse a data segment. Returns 0, or -1 when a pair is malformed (no '=',
 * key too long or not of the allowed characters, value too long, a
 * trailing fragment without NUL). Login continuation is gathered by login.c. */
int text_kv_parse(struct text_kv_list *l, const uint8_t *data, uint32_t len);
int text_kv_add(struct text_kv_list *l, const char *key, const char *value);
int text_kv_addf(struct text_kv_list *l, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* First value of key, or NULL. */
const char *text_kv_get(const struct text_kv_list *l, const char *key);
unsigned text_kv_count_key(const struct text_kv_list *l, const char *key);
/* Serialize into a malloc'd buffer; *len gets its length. NULL on ENOMEM. */
uint8_t *text_kv_format(const struct text_kv_list *l, uint32_t *len);

#endif
