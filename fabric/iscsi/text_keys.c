/* Text key=value lists (RFC 7143 6.1): "key=value\0" pairs, kept in
 * arrival order, with the syntax checks the RFC asks of a receiver. */
#include "text_keys.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void text_kv_init(struct text_kv_list *l)
{
	l->items = NULL;
	l->count = 0;
	l->cap = 0;
}

static void free_items_from(struct text_kv_list *l, unsigned from)
{
	for (unsigned i = from; i < l->count; i++) {
		free(l->items[i].key);
		free(l->items[i].value);
	}
	l->count = from;
}

void text_kv_free(struct text_kv_list *l)
{
	free_items_from(l, 0);
	free(l->items);
	text_kv_init(l);
}

/* 6.1: a key holds letters, digits, '.', '-', '+', '@' and '_', at most
 * 63 characters. 6.1 also asks for a capital first letter, but the RFC's
 * own iSCSIProtocolLevel (13.24) does not have one: any letter will do.
 * The IANA-registered extension keys are named "X#..." (13.22, 13.26). */
static bool key_name_valid(const char *key, size_t len)
{
	if (len == 0 || len >= TEXT_KEY_MAX)
		return false;
	if (!((key[0] >= 'A' && key[0] <= 'Z') || (key[0] >= 'a' && key[0] <= 'z')))
		return false;
	for (size_t i = 1; i < len; i++) {
		char c = key[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (c == '.' || c == '-' || c == '+' || c == '@' || c == '_')
			continue;
		if (c == '#' && i == 1 && key[0] == 'X')
			continue;
		return false;
	}
	return true;
}

static int add_n(struct text_kv_list *l, const char *key, size_t key_len,
		 const char *value, size_t value_len)
{
	struct text_kv *item;

	if (l->count == l->cap) {
		unsigned cap = l->cap ? l->cap * 2 : 16;
		struct text_kv *items = realloc(l->items, cap * sizeof(*items));

		if (!items)
			return -1;
		l->items = items;
		l->cap = cap;
	}
	item = &l->items[l->count];
	item->key = strndup(key, key_len);
	item->value = strndup(value, value_len);
	if (!item->key || !item->value) {
		free(item->key);
		free(item->value);
		return -1;
	}
	l->count++;
	return 0;
}

int text_kv_parse(struct text_kv_list *l, const uint8_t *data, uint32_t len)
{
	const char *p = (const char *)data, *end;
	unsigned first_new = l->count;

	if (len == 0)
		return 0;
	end = p + len;
	while (p < end) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		const char *eq;

		/* 6.1: every pair ends with a NUL. */
		if (!nul)
			goto malformed;
		/* Tolerate stray NULs between pairs (padding some senders add). */
		if (nul == p) {
			p++;
			continue;
		}
		eq = memchr(p, '=', (size_t)(nul - p));
		if (!eq || !key_name_valid(p, (size_t)(eq - p)))
			goto malformed;
		/* 6.1: a value is at most 8192 bytes including its NUL. */
		if ((size_t)(nul - eq - 1) >= TEXT_VALUE_MAX)
			goto malformed;
		if (add_n(l, p, (size_t)(eq - p), eq + 1, (size_t)(nul - eq - 1)) < 0)
			goto malformed;
		p = nul + 1;
	}
	return 0;

malformed:
	free_items_from(l, first_new);   /* all or nothing */
	return -1;
}

int text_kv_add(struct text_kv_list *l, const char *key, const char *value)
{
	return add_n(l, key, strlen(key), value, strlen(value));
}

int text_kv_addf(struct text_kv_list *l, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *value;
	int n, rc;

	va_start(ap, fmt);
	n = vasprintf(&value, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	rc = text_kv_add(l, key, value);
	free(value);
	return rc;
}

const char *text_kv_get(const struct text_kv_list *l, const char *key)
{
	for (unsigned i = 0; i < l->count; i++)
		if (strcmp(l->items[i].key, key) == 0)
			return l->items[i].value;
	return NULL;
}

unsigned text_kv_count_key(const struct text_kv_list *l, const char *key)
{
	unsigned n = 0;

	for (unsigned i = 0; i < l->count; i++)
		if (strcmp(l->items[i].key, key) == 0)
			n++;
	return n;
}

uint8_t *text_kv_format(const struct text_kv_list *l, uint32_t *len)
{
	size_t total = 0, pos = 0;
	uint8_t *buf;

	for (unsigned i = 0; i < l->count; i++)
		total += strlen(l->items[i].key) + 1 + strlen(l->items[i].value) + 1;
	if (total > UINT32_MAX)
		return NULL;
	buf = malloc(total ? total : 1);
	if (!buf)
		return NULL;
	for (unsigned i = 0; i < l->count; i++) {
		size_t klen = strlen(l->items[i].key), vlen = strlen(l->items[i].value);

		memcpy(buf + pos, l->items[i].key, klen);
		buf[pos + klen] = '=';
		memcpy(buf + pos + klen + 1, l->items[i].value, vlen);
		buf[pos + klen + 1 + vlen] = '\0';
		pos += klen + vlen + 2;
	}
	*len = (uint32_t)total;
	return buf;
}
