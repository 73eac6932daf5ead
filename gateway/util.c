#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

int parse_size(const char *text, uint64_t *bytes)
{
	char *end;
	uint64_t value, mult = 1;

	if (!text || !*text || *text == '-')
		return -1;
	errno = 0;
	value = strtoull(text, &end, 10);
	if (errno || end == text)
		return -1;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': mult = 1ULL << 10; end++; break;
	case 'm': case 'M': mult = 1ULL << 20; end++; break;
	case 'g': case 'G': mult = 1ULL << 30; end++; break;
	case 't': case 'T': mult = 1ULL << 40; end++; break;
	default: return -1;
	}
	if (*end == 'i' || *end == 'B' || *end == 'b') /* accept 1GiB / 1GB */
		end += (*end == 'i' && (end[1] == 'B' || end[1] == 'b')) ? 2 : 1;
	if (*end != '\0')
		return -1;
	if (value && mult > UINT64_MAX / value)
		return -1;
	*bytes = value * mult;
	return 0;
}

size_t str_copy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size) {
		size_t n = len < size - 1 ? len : size - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

uint64_t now_ms(void)
{
	return now_ns() / 1000000ULL;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

bool mem_all_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

void *alloc_io_buffer(size_t len)
{
	void *p = NULL;

	if (len == 0)
		len = 1;
	if (posix_memalign(&p, 4096, (len + 4095) & ~(size_t)4095))
		return NULL;
	memset(p, 0, len);
	return p;
}

int write_file_atomic(const char *path, const void *data, size_t len)
{
	char tmp[4096];
	const char *p = data;
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? -errno : -EIO;
			close(fd);
			unlink(tmp);
			return err;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		int err = -errno;
		unlink(tmp);
		return err;
	}
	if (rename(tmp, path) < 0)
		return -errno;
	return 0;
}

uint64_t hash64(const void *data, size_t len, uint64_t seed)
{
	const uint8_t *p = data;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

bool parse_wwn(const char *text, uint64_t *wwn)
{
	uint64_t v = 0;
	unsigned digits = 0;

	if (!strncasecmp(text, "naa.", 4) || !strncasecmp(text, "0x", 2))
		text += text[1] == 'x' || text[1] == 'X' ? 2 : 4;
	for (; *text; text++) {
		unsigned d;

		if (*text == ':' && digits && digits % 2 == 0 && text[1])
			continue;
		if (*text >= '0' && *text <= '9')
			d = (unsigned)(*text - '0');
		else if (*text >= 'a' && *text <= 'f')
			d = (unsigned)(*text - 'a' + 10);
		else if (*text >= 'A' && *text <= 'F')
			d = (unsigned)(*text - 'A' + 10);
		else
			return false;
		if (++digits > 16)
			return false;
		v = v << 4 | d;
	}
	if (digits != 16 || v == 0)
		return false;
	*wwn = v;
	return true;
}
