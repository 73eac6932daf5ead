/* Checks of single values, wherever they come from (the file, a request,
 * a --lun spec): iSCSI names (RFC 7143 4.2.7), portals, CHAP credentials
 * (RFC 7143 9.2.1), WWNs and the semantics of an LU spec. */
#include "config_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

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

int cfg_check_name(const char *name, const char *path, char *err, size_t errlen)
{
	char why[256];

	if (config_iscsi_name_valid(name, why, sizeof(why)))
		return 0;
	return cfg_failf(-EINVAL, err, errlen, path, "\"%s\" is not a valid iSCSI name: %s", name, why);
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

json_object *config_portal_json(const struct portal *p)
{
	char text[128];
	json_object *o;

	if (p->transport == PORTAL_FCOE)
		str_copy(text, p->addr, sizeof(text));   /* the interface */
	else
		config_portal_format(p->addr, p->port, text, sizeof(text));
	if (p->transport == PORTAL_TCP)
		return json_object_new_string(text);
	o = json_object_new_object();
	json_object_object_add(o, "portal", json_object_new_string(text));
	json_object_object_add(o, "transport", json_object_new_string(portal_transport_name(p->transport)));
	if (p->transport == PORTAL_FCOE) {
		char wwn[24];

		if (p->wwpn) {
			snprintf(wwn, sizeof(wwn), "0x%016llx", (unsigned long long)p->wwpn);
			json_object_object_add(o, "wwpn", json_object_new_string(wwn));
		}
		if (p->wwnn) {
			snprintf(wwn, sizeof(wwn), "0x%016llx", (unsigned long long)p->wwnn);
			json_object_object_add(o, "wwnn", json_object_new_string(wwn));
		}
		if (p->target[0])
			json_object_object_add(o, "target", json_object_new_string(p->target));
	}
	return o;
}

/* One credential: CHAP_N (a name) and the shared secret. */
int cfg_chap_fill(struct chap_cred *cred, const char *user, const char *secret,
		  const char *user_path, const char *secret_path, char *err, size_t errlen)
{
	size_t slen = strlen(secret);

	if (!*user || strlen(user) >= CHAP_NAME_MAX)
		return cfg_failf(-EINVAL, err, errlen, user_path, "must be 1 to %d bytes", CHAP_NAME_MAX - 1);
	/* RFC 7143 9.2.1: secrets with less than 96 random bits are only
	 * allowed under IPsec, which sangw does not provide. */
	if (slen < CONFIG_CHAP_SECRET_MIN || slen >= CHAP_SECRET_MAX)
		return cfg_failf(-EINVAL, err, errlen, secret_path,
				 "must be %d to %d bytes long (RFC 7143 9.2.1 asks for at least 96 bits)",
				 CONFIG_CHAP_SECRET_MIN, CHAP_SECRET_MAX - 1);
	for (const char *p = user; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return cfg_failf(-EINVAL, err, errlen, user_path, "contains a control character");
	for (const char *p = secret; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return cfg_failf(-EINVAL, err, errlen, secret_path, "contains a control character");
	memset(cred, 0, sizeof(*cred));
	cred->set = true;
	str_copy(cred->user, user, sizeof(cred->user));
	str_copy(cred->secret, secret, sizeof(cred->secret));
	return 0;
}

/* Mutual CHAP is the target answering the initiator's challenge after the
 * initiator authenticated itself (RFC 7143 12.1.3), so it needs one-way
 * CHAP, and RFC 7143 9.2.1 forbids reusing a secret in both directions. */
int cfg_check_chap_pair(const struct chap_cred *one_way, const struct chap_cred *mutual,
			const char *mutual_path, char *err, size_t errlen)
{
	if (!mutual->set)
		return 0;
	if (!one_way->set)
		return cfg_failf(-EINVAL, err, errlen, mutual_path,
				 "mutual CHAP needs one-way CHAP (\"chap\") as well");
	if (strcmp(one_way->secret, mutual->secret) == 0)
		return cfg_failf(-EINVAL, err, errlen, mutual_path,
				 "the mutual secret must differ from the one-way secret (RFC 7143 9.2.1)");
	return 0;
}

/* The LU's NAA designator: IEEE Registered Extended, NAA 6, 128 bits
 * (SPC-4 7.8.6.6.5), as 32 hex digits; a leading "0x" is dropped. */
static int check_wwn(char *wwn, const char *path, char *err, size_t errlen)
{
	size_t len;

	if (wwn[0] == '0' && (wwn[1] == 'x' || wwn[1] == 'X'))
		memmove(wwn, wwn + 2, strlen(wwn + 2) + 1);
	len = strlen(wwn);
	if (len != 32 || !all_hex(wwn, len))
		return cfg_failf(-EINVAL, err, errlen, path, "\"%s\" is not 32 hex digits", wwn);
	if (wwn[0] != '6')
		return cfg_failf(-EINVAL, err, errlen, path,
				 "an NAA 6 designator starts with the digit 6 (SPC-4 7.8.6.6.5)");
	return 0;
}

/* Semantic checks shared by the file, the requests and spec strings. */
int cfg_validate_lu_spec(struct lu_spec *spec, const char *path, char *err, size_t errlen)
{
	char q[JPATH_MAX];
	int r;

	cfg_path_key(q, path, "backstore");
	if (!spec->backstore[0])
		return cfg_failf(-EINVAL, err, errlen, q, "missing");
	if (!backstore_find(spec->backstore))
		return cfg_failf(-EINVAL, err, errlen, q, "unknown backstore \"%s\"", spec->backstore);
	cfg_path_key(q, path, "path");
	if (strcmp(spec->backstore, "file") == 0) {
		if (!spec->path[0])
			return cfg_failf(-EINVAL, err, errlen, q, "missing (the file backstore needs a path)");
		if (spec->path[0] != '/')
			return cfg_failf(-EINVAL, err, errlen, q, "\"%s\" is not an absolute path", spec->path);
	} else if (strcmp(spec->backstore, "null") == 0 && spec->path[0]) {
		return cfg_failf(-EINVAL, err, errlen, q, "the null backstore takes no path");
	} else if (strcmp(spec->backstore, "rbd") == 0) {
		/* RBD images are thin by nature: UNMAP frees objects. */
		spec->thin = true;
	}
	{
		const struct backstore_ops *ops = backstore_find(spec->backstore);
		char why[256] = "";

		if (!ops->check_spec && spec->options[0]) {
			cfg_path_key(q, path, "options");
			return cfg_failf(-EINVAL, err, errlen, q, "the %s backstore takes no options",
					 spec->backstore);
		}
		if (ops->check_spec && ops->check_spec(spec->path, spec->options, why, sizeof(why)) < 0)
			return cfg_failf(-EINVAL, err, errlen, q, "%s", why);
	}
	cfg_path_key(q, path, "block_size");
	if (spec->block_size == 0)
		spec->block_size = DEFAULT_BLOCK;
	if (spec->block_size != 512 && spec->block_size != 4096)
		return cfg_failf(-EINVAL, err, errlen, q, "%u is not 512 or 4096", spec->block_size);
	cfg_path_key(q, path, "phys_block_size");
	if (spec->phys_block_size &&
	    (spec->phys_block_size < spec->block_size || spec->phys_block_size > 65536 ||
	     (spec->phys_block_size & (spec->phys_block_size - 1))))
		return cfg_failf(-EINVAL, err, errlen, q, "%u is not a power of two from the block size to 65536",
				 spec->phys_block_size);
	cfg_path_key(q, path, "size");
	if (spec->size % spec->block_size)
		return cfg_failf(-EINVAL, err, errlen, q, "%llu is not a multiple of the block size %u",
				 (unsigned long long)spec->size, spec->block_size);
	if (spec->wwn[0]) {
		cfg_path_key(q, path, "wwn");
		if ((r = check_wwn(spec->wwn, q, err, errlen)) < 0)
			return r;
		for (char *c = spec->wwn; *c; c++)
			*c = (char)tolower((unsigned char)*c);
	}
	return 0;
}
