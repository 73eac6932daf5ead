/* Unit tests of the local backstores (file via libaio, null), driven through
 * a real event loop on files under a mkdtemp folder. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../gateway/backstore/backstore.h"
#include "../../gateway/event_loop.h"
#include "../../gateway/log.h"
#include "../../gateway/model.h"
#include "../../gateway/util.h"

#define KiB 1024ull
#define MiB (1024ull * KiB)

/* One gateway/target/LU filled by hand, and a scratch folder. */
struct fixture {
	char dir[64];
	char path[PATH_MAX];
	struct gateway gw;
	struct target target;
	struct lu lu;
	unsigned completions;
	bool in_submit;          /* done() must never run while this is set */
};

static struct fixture *fixture_new(void)
{
	/* struct lu inside is cache-line aligned. */
	struct fixture *f = aligned_alloc(_Alignof(struct fixture), sizeof(*f));

	assert_non_null(f);
	memset(f, 0, sizeof(*f));
	strcpy(f->dir, "/tmp/test_backstore.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/lu.img", f->dir);
	f->gw.loop = event_loop_create();
	assert_non_null(f->gw.loop);
	f->target.gw = &f->gw;
	f->lu.target = &f->target;
	f->lu.block_size = 512;
	return f;
}

static int setup(void **state)
{
	*state = fixture_new();
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	if (f->lu.bs_priv)
		f->lu.bs_ops->close(&f->lu);
	event_loop_destroy(f->gw.loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void set_spec(struct fixture *f, const char *backstore, uint64_t size, bool thin)
{
	memset(&f->lu.spec, 0, sizeof(f->lu.spec));
	str_copy(f->lu.spec.backstore, backstore, sizeof(f->lu.spec.backstore));
	str_copy(f->lu.spec.path, f->path, sizeof(f->lu.spec.path));
	f->lu.spec.size = size;
	f->lu.spec.thin = thin;
	f->lu.bs_ops = backstore_find(backstore);
	assert_non_null(f->lu.bs_ops);
}

static int open_lu(struct fixture *f, char *err, size_t errlen)
{
	err[0] = '\0';
	return f->lu.bs_ops->open(&f->lu, err, errlen);
}

static void open_lu_ok(struct fixture *f)
{
	char err[256];

	if (open_lu(f, err, sizeof(err)) != 0)
		fail_msg("open failed: %s", err);
	assert_non_null(f->lu.bs_priv);
}

static void close_lu(struct fixture *f)
{
	f->lu.bs_ops->close(&f->lu);
	assert_null(f->lu.bs_priv);
}

static void count_done(struct bs_io *io)
{
	struct fixture *f = io->arg;

	assert_false(f->in_submit);
	f->completions++;
}

static void submit(struct fixture *f, struct bs_io *io)
{
	io->done = count_done;
	io->arg = f;
	io->result = 12345;  /* must be overwritten */
	f->in_submit = true;
	f->lu.bs_ops->submit(&f->lu, io);
	f->in_submit = false;
}

/* Run the loop until `want` completions have arrived (10 s at most). */
static void wait_completions(struct fixture *f, unsigned want)
{
	uint64_t deadline = now_ms() + 10000;

	while (f->completions < want) {
		assert_true(now_ms() < deadline);
		assert_int_equal(event_loop_run_once(f->gw.loop, 100), 0);
	}
	assert_int_equal(f->completions, want);
}

/* Submit one request, run the loop until it completes, return its result. */
static int run_io(struct fixture *f, enum bs_op op, uint64_t offset, uint64_t length,
		  void *buf, bool fua)
{
	struct bs_io io = { .op = op, .offset = offset, .length = length, .buf = buf, .fua = fua };
	unsigned before = f->completions;

	submit(f, &io);
	assert_int_equal(f->completions, before);  /* not completed inside submit */
	wait_completions(f, before + 1);
	return io.result;
}

static void fill_pattern(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

static bool all_zero(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i])
			return false;
	return true;
}

static struct stat stat_path(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st;
}

/* Pages of [offset, offset+len) of the file that are in the page cache. */
static unsigned cached_pages(const char *path, uint64_t offset, uint64_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char vec[256];
	unsigned count = 0;
	int fd = open(path, O_RDONLY);
	void *map;

	assert_true(fd >= 0);
	assert_true(len / (uint64_t)page <= sizeof(vec));
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)offset);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mincore(map, len, vec), 0);
	for (uint64_t i = 0; i < len / (uint64_t)page; i++)
		count += vec[i] & 1;
	munmap(map, len);
	close(fd);
	return count;
}

/* --- opening and sizing ------------------------------------------------- */

static void test_create_thin(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	set_spec(f, "file", 64 * MiB, true);
	open_lu_ok(f);
	assert_int_equal(f->lu.size_bytes, 64 * MiB);
	st = stat_path(f->path);
	assert_int_equal(st.st_size, 64 * MiB);
	assert_true((uint64_t)st.st_blocks * 512 < 1 * MiB);  /* sparse */
	close_lu(f);
}

static void test_create_thick(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	set_spec(f, "file", 16 * MiB, false);
	open_lu_ok(f);
	assert_int_equal(f->lu.size_bytes, 16 * MiB);
	st = stat_path(f->path);
	assert_int_equal(st.st_size, 16 * MiB);
	assert_true((uint64_t)st.st_blocks * 512 >= 16 * MiB);  /* allocated */
	close_lu(f);
}

static void test_existing_file_size(void **state)
{
	struct fixture *f = *state;
	int fd = open(f->path, O_CREAT | O_RDWR, 0600);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 8 * MiB), 0);
	close(fd);

	/* size 0: use the file's size */
	set_spec(f, "file", 0, true);
	open_lu_ok(f);
	assert_int_equal(f->lu.size_bytes, 8 * MiB);
	close_lu(f);

	/* smaller size asked: the file keeps its size */
	set_spec(f, "file", 4 * MiB, true);
	open_lu_ok(f);
	assert_int_equal(f->lu.size_bytes, 8 * MiB);
	assert_int_equal(stat_path(f->path).st_size, 8 * MiB);
	close_lu(f);

	/* larger size asked: the file grows */
	set_spec(f, "file", 12 * MiB, false);
	open_lu_ok(f);
	assert_int_equal(f->lu.size_bytes, 12 * MiB);
	assert_int_equal(stat_path(f->path).st_size, 12 * MiB);
	close_lu(f);
}

static void test_open_errors(void **state)
{
	struct fixture *f = *state;
	char err[256];
	int fd;

	/* a directory */
	set_spec(f, "file", 1 * MiB, true);
	str_copy(f->lu.spec.path, f->dir, sizeof(f->lu.spec.path));
	assert_true(open_lu(f, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "Is a directory"));
	assert_non_null(strstr(err, f->dir));
	assert_null(f->lu.bs_priv);

	/* a missing file and no size: error, nothing created */
	set_spec(f, "file", 0, true);
	assert_true(open_lu(f, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "does not exist"));
	assert_int_equal(access(f->path, F_OK), -1);

	/* a folder that does not exist */
	set_spec(f, "file", 1 * MiB, true);
	snprintf(f->lu.spec.path, sizeof(f->lu.spec.path), "%s/missing/lu.img", f->dir);
	assert_true(open_lu(f, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "No such file or directory"));

	/* an empty existing file and no size */
	fd = open(f->path, O_CREAT | O_RDWR, 0600);
	assert_true(fd >= 0);
	close(fd);
	set_spec(f, "file", 0, true);
	assert_true(open_lu(f, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "empty"));

	/* no path at all */
	set_spec(f, "file", 1 * MiB, true);
	f->lu.spec.path[0] = '\0';
	assert_true(open_lu(f, err, sizeof(err)) < 0);
	assert_true(err[0] != '\0');

	/* a FIFO is neither a file nor a block device */
	snprintf(f->path, sizeof(f->path), "%s/fifo", f->dir);
	assert_int_equal(mkfifo(f->path, 0600), 0);
	set_spec(f, "file", 0, true);
	assert_true(open_lu(f, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "neither"));
}

/* --- data path ---------------------------------------------------------- */

static void test_aligned_direct_io(void **state)
{
	struct fixture *f = *state;
	uint8_t *wbuf = alloc_io_buffer(64 * KiB);
	uint8_t *rbuf = alloc_io_buffer(64 * KiB);
	uint8_t *check = malloc(64 * KiB);
	int fd;

	set_spec(f, "file", 4 * MiB, true);
	open_lu_ok(f);
	fill_pattern(wbuf, 64 * KiB, 1);
	assert_int_equal(run_io(f, BS_OP_WRITE, 1 * MiB, 64 * KiB, wbuf, false), 0);
	/* O_DIRECT bypassed the page cache */
	assert_int_equal(cached_pages(f->path, 1 * MiB, 64 * KiB), 0);
	assert_int_equal(run_io(f, BS_OP_READ, 1 * MiB, 64 * KiB, rbuf, false), 0);
	assert_memory_equal(rbuf, wbuf, 64 * KiB);
	assert_int_equal(cached_pages(f->path, 1 * MiB, 64 * KiB), 0);

	/* the bytes are really in the file */
	fd = open(f->path, O_RDONLY);
	assert_int_equal(pread(fd, check, 64 * KiB, 1 * MiB), (ssize_t)(64 * KiB));
	close(fd);
	assert_memory_equal(check, wbuf, 64 * KiB);
	close_lu(f);
	free(wbuf);
	free(rbuf);
	free(check);
}

static void test_unaligned_buffered_io(void **state)
{
	struct fixture *f = *state;
	uint8_t *wbuf = alloc_io_buffer(8 * KiB);
	uint8_t *rbuf = alloc_io_buffer(8 * KiB);
	uint8_t check[1000];
	int fd;

	set_spec(f, "file", 4 * MiB, true);
	open_lu_ok(f);
	fill_pattern(wbuf, 8 * KiB, 2);
	/* buffer, offset and length all off the 4096 grid */
	assert_int_equal(run_io(f, BS_OP_WRITE, 2 * MiB + 513, 1000, wbuf + 1, false), 0);
	assert_true(cached_pages(f->path, 2 * MiB, 4 * KiB) > 0);
	assert_int_equal(run_io(f, BS_OP_READ, 2 * MiB + 513, 1000, rbuf + 3, false), 0);
	assert_memory_equal(rbuf + 3, wbuf + 1, 1000);

	fd = open(f->path, O_RDONLY);
	assert_int_equal(pread(fd, check, sizeof(check), 2 * MiB + 513), (ssize_t)sizeof(check));
	close(fd);
	assert_memory_equal(check, wbuf + 1, 1000);

	/* an aligned read sees what the buffered write left around it */
	memset(rbuf, 0xaa, 4 * KiB);
	assert_int_equal(run_io(f, BS_OP_READ, 2 * MiB, 4 * KiB, rbuf, false), 0);
	assert_true(all_zero(rbuf, 513));
	assert_memory_equal(rbuf + 513, wbuf + 1, 1000);
	assert_true(all_zero(rbuf + 1513, 4 * KiB - 1513));
	close_lu(f);
	free(wbuf);
	free(rbuf);
}

static void test_fua_and_flush(void **state)
{
	struct fixture *f = *state;
	uint8_t *wbuf = alloc_io_buffer(8 * KiB);
	uint8_t *rbuf = alloc_io_buffer(8 * KiB);

	set_spec(f, "file", 4 * MiB, false);
	open_lu_ok(f);
	fill_pattern(wbuf, 8 * KiB, 3);
	assert_int_equal(run_io(f, BS_OP_WRITE, 0, 8 * KiB, wbuf, true), 0);
	assert_int_equal(run_io(f, BS_OP_WRITE, 100, 200, wbuf, true), 0);  /* buffered FUA */
	assert_int_equal(run_io(f, BS_OP_FLUSH, 0, 0, NULL, false), 0);
	assert_int_equal(run_io(f, BS_OP_READ, 0, 8 * KiB, rbuf, false), 0);
	assert_memory_equal(rbuf, wbuf, 100);
	assert_memory_equal(rbuf + 100, wbuf, 200);
	assert_memory_equal(rbuf + 300, wbuf + 300, 8 * KiB - 300);
	close_lu(f);
	free(wbuf);
	free(rbuf);
}

static void test_unmap_and_map_status(void **state)
{
	struct fixture *f = *state;
	uint8_t *buf = alloc_io_buffer(1 * MiB);
	bool mapped;
	uint64_t len;

	set_spec(f, "file", 4 * MiB, true);
	open_lu_ok(f);
	/* fresh thin file: one hole to the end */
	assert_int_equal(f->lu.bs_ops->map_status(&f->lu, 0, &mapped, &len), 0);
	assert_false(mapped);
	assert_int_equal(len, 4 * MiB);

	fill_pattern(buf, 1 * MiB, 4);
	assert_int_equal(run_io(f, BS_OP_WRITE, 0, 1 * MiB, buf, false), 0);
	assert_int_equal(run_io(f, BS_OP_UNMAP, 256 * KiB, 64 * KiB, NULL, false), 0);
	assert_int_equal(run_io(f, BS_OP_READ, 0, 1 * MiB, buf, false), 0);
	assert_true(all_zero(buf + 256 * KiB, 64 * KiB));
	assert_false(all_zero(buf + 256 * KiB - 4096, 4096));
	assert_false(all_zero(buf + 320 * KiB, 4096));

	assert_int_equal(f->lu.bs_ops->map_status(&f->lu, 0, &mapped, &len), 0);
	assert_true(mapped);
	assert_int_equal(len, 256 * KiB);
	assert_int_equal(f->lu.bs_ops->map_status(&f->lu, 256 * KiB, &mapped, &len), 0);
	assert_false(mapped);
	assert_int_equal(len, 64 * KiB);
	assert_int_equal(f->lu.bs_ops->map_status(&f->lu, 320 * KiB, &mapped, &len), 0);
	assert_true(mapped);
	assert_int_equal(len, 1 * MiB - 320 * KiB);
	assert_int_equal(f->lu.bs_ops->map_status(&f->lu, 1 * MiB, &mapped, &len), 0);
	assert_false(mapped);
	assert_int_equal(len, 3 * MiB);
	assert_int_equal(f->lu.bs_ops->map_status(&f->lu, 4 * MiB, &mapped, &len), -EINVAL);
	close_lu(f);
	free(buf);
}

static void test_write_zeroes(void **state)
{
	struct fixture *f = *state;
	uint8_t *buf = alloc_io_buffer(256 * KiB);
	bool mapped;
	uint64_t len;

	set_spec(f, "file", 4 * MiB, true);
	open_lu_ok(f);
	fill_pattern(buf, 256 * KiB, 5);
	assert_int_equal(run_io(f, BS_OP_WRITE, 0, 256 * KiB, buf, false), 0);
	/* unaligned range: partial blocks are zeroed too */
	assert_int_equal(run_io(f, BS_OP_WRITE_ZEROES, 1000, 10000, NULL, false), 0);
	assert_int_equal(run_io(f, BS_OP_READ, 0, 256 * KiB, buf, false), 0);
	assert_false(all_zero(buf, 1000));
	assert_true(all_zero(buf + 1000, 10000));
	assert_false(all_zero(buf + 11000, 1000));
	/* the blocks around the range keep their data and stay mapped (ext4
	 * may report the zeroed whole blocks as holes: unwritten extents) */
	assert_int_equal(f->lu.bs_ops->map_status(&f->lu, 0, &mapped, &len), 0);
	assert_true(mapped);
	assert_int_equal(stat_path(f->path).st_size, 4 * MiB);
	close_lu(f);
	free(buf);
}

static void test_resize(void **state)
{
	struct fixture *f = *state;
	uint8_t *buf = alloc_io_buffer(4 * KiB);

	set_spec(f, "file", 4 * MiB, true);
	open_lu_ok(f);
	assert_int_equal(f->lu.bs_ops->resize(&f->lu, 8 * MiB), 0);
	assert_int_equal(f->lu.size_bytes, 8 * MiB);
	assert_int_equal(stat_path(f->path).st_size, 8 * MiB);
	/* the new space is usable */
	fill_pattern(buf, 4 * KiB, 6);
	assert_int_equal(run_io(f, BS_OP_WRITE, 8 * MiB - 4 * KiB, 4 * KiB, buf, false), 0);

	assert_int_equal(f->lu.bs_ops->resize(&f->lu, 2 * MiB), 0);
	assert_int_equal(f->lu.size_bytes, 2 * MiB);
	assert_int_equal(stat_path(f->path).st_size, 2 * MiB);
	/* past the new end is refused */
	assert_int_equal(run_io(f, BS_OP_READ, 2 * MiB, 4 * KiB, buf, false), -EINVAL);
	assert_int_equal(f->lu.bs_ops->resize(&f->lu, 0), -EINVAL);
	close_lu(f);
	free(buf);
}

static void test_beyond_eof(void **state)
{
	struct fixture *f = *state;
	uint8_t *buf = alloc_io_buffer(64 * KiB);
	int fd;

	set_spec(f, "file", 1 * MiB, true);
	open_lu_ok(f);
	/* beyond the LU: refused, nothing written */
	assert_int_equal(run_io(f, BS_OP_WRITE, 1 * MiB, 4 * KiB, buf, false), -EINVAL);
	assert_int_equal(run_io(f, BS_OP_READ, 1 * MiB - 512, 1024, buf, false), -EINVAL);
	assert_int_equal(run_io(f, BS_OP_UNMAP, UINT64_MAX - 10, 100, NULL, false), -EINVAL);
	assert_int_equal(stat_path(f->path).st_size, 1 * MiB);
	assert_int_equal(run_io(f, (enum bs_op)99, 0, 512, buf, false), -EINVAL);

	/* zero length: nothing to do */
	assert_int_equal(run_io(f, BS_OP_READ, 0, 0, NULL, false), 0);

	/* the file shrank under the LU: reads past its end return zeros */
	fill_pattern(buf, 64 * KiB, 7);
	assert_int_equal(run_io(f, BS_OP_WRITE, 1 * MiB - 64 * KiB, 64 * KiB, buf, false), 0);
	fd = open(f->path, O_RDWR);
	assert_int_equal(ftruncate(fd, 1 * MiB - 32 * KiB), 0);
	close(fd);
	memset(buf, 0xff, 64 * KiB);
	assert_int_equal(run_io(f, BS_OP_READ, 1 * MiB - 64 * KiB, 64 * KiB, buf, false), 0);
	{
		uint8_t expect[32 * KiB];
		fill_pattern(expect, sizeof(expect), 7);
		assert_memory_equal(buf, expect, 32 * KiB);
	}
	assert_true(all_zero(buf + 32 * KiB, 32 * KiB));
	/* the same through the buffered path */
	memset(buf, 0xff, 64 * KiB);
	assert_int_equal(run_io(f, BS_OP_READ, 1 * MiB - 40000, 20000, buf + 1, false), 0);
	assert_true(all_zero(buf + 1 + (40000 - 32 * KiB), 20000 - (40000 - 32 * KiB)));
	close_lu(f);
	free(buf);
}

/* Errors from the kernel come back as -errno in result. */
static void test_io_error(void **state)
{
	struct fixture *f = *state;
	void *bad = (void *)(uintptr_t)4096;  /* never mapped */

	set_spec(f, "file", 1 * MiB, true);
	open_lu_ok(f);
	assert_int_equal(run_io(f, BS_OP_WRITE, 0, 4096, bad, false), -EFAULT);      /* direct */
	assert_int_equal(run_io(f, BS_OP_WRITE, 512, 1000, bad, false), -EFAULT);    /* buffered */
	assert_int_equal(run_io(f, BS_OP_WRITE, 0, 4096, NULL, false), -EFAULT);
	close_lu(f);
}

static void test_readonly(void **state)
{
	struct fixture *f = *state;
	uint8_t *buf = alloc_io_buffer(4 * KiB);

	set_spec(f, "file", 1 * MiB, true);
	open_lu_ok(f);
	close_lu(f);
	assert_int_equal(chmod(f->path, 0400), 0);
	set_spec(f, "file", 0, true);
	f->lu.spec.readonly = true;
	open_lu_ok(f);
	assert_int_equal(run_io(f, BS_OP_READ, 0, 4 * KiB, buf, false), 0);
	assert_int_equal(run_io(f, BS_OP_WRITE, 0, 4 * KiB, buf, false), -EROFS);
	assert_int_equal(run_io(f, BS_OP_UNMAP, 0, 4 * KiB, NULL, false), -EROFS);
	assert_int_equal(f->lu.bs_ops->resize(&f->lu, 2 * MiB), -EROFS);
	close_lu(f);
	free(buf);
}

/* More requests than the AIO queue holds, all submitted in one loop
 * iteration, mixed aligned and unaligned; every one completes once. */
static void test_many_in_one_batch(void **state)
{
	struct fixture *f = *state;
	enum { COUNT = 600, LEN = 4096 };
	struct bs_io *ios = calloc(COUNT, sizeof(*ios));
	uint8_t *data = alloc_io_buffer((size_t)COUNT * LEN + 4096);
	uint8_t *back = alloc_io_buffer((size_t)COUNT * LEN);

	set_spec(f, "file", 8 * MiB, true);
	open_lu_ok(f);
	fill_pattern(data, (size_t)COUNT * LEN + 4096, 8);
	for (unsigned i = 0; i < COUNT; i++) {
		/* every third request unaligned (buffered path) */
		unsigned skew = i % 3 == 0 ? 1 : 0;
		ios[i] = (struct bs_io){ .op = BS_OP_WRITE, .offset = (uint64_t)i * LEN,
					 .length = LEN, .buf = data + (size_t)i * LEN + skew };
		submit(f, &ios[i]);
	}
	assert_int_equal(f->completions, 0);
	wait_completions(f, COUNT);
	for (unsigned i = 0; i < COUNT; i++)
		assert_int_equal(ios[i].result, 0);

	f->completions = 0;
	for (unsigned i = 0; i < COUNT; i++) {
		ios[i] = (struct bs_io){ .op = BS_OP_READ, .offset = (uint64_t)i * LEN,
					 .length = LEN, .buf = back + (size_t)i * LEN };
		submit(f, &ios[i]);
	}
	wait_completions(f, COUNT);
	for (unsigned i = 0; i < COUNT; i++) {
		unsigned skew = i % 3 == 0 ? 1 : 0;
		assert_int_equal(ios[i].result, 0);
		assert_memory_equal(back + (size_t)i * LEN, data + (size_t)i * LEN + skew, LEN);
	}
	close_lu(f);
	free(ios);
	free(data);
	free(back);
}

/* A completion callback that submits the next request, as the SCSI core
 * does for multi-step commands. */
struct chain {
	struct fixture *f;
	struct bs_io io;
	uint8_t *buf;
	unsigned left;
	bool finished;
};

static void chain_done(struct bs_io *io)
{
	struct chain *c = io->arg;

	assert_false(c->f->in_submit);
	assert_int_equal(io->result, 0);
	if (--c->left == 0) {
		c->finished = true;
		return;
	}
	io->offset += 4096;
	c->f->in_submit = true;
	c->f->lu.bs_ops->submit(&c->f->lu, io);
	c->f->in_submit = false;
}

static void test_submit_from_done(void **state)
{
	struct fixture *f = *state;
	struct chain c = { .f = f, .left = 50 };
	uint64_t deadline = now_ms() + 10000;

	c.buf = alloc_io_buffer(4096);
	set_spec(f, "file", 1 * MiB, true);
	open_lu_ok(f);
	c.io = (struct bs_io){ .op = BS_OP_WRITE, .length = 4096, .buf = c.buf,
			       .done = chain_done, .arg = &c };
	f->lu.bs_ops->submit(&f->lu, &c.io);
	while (!c.finished) {
		assert_true(now_ms() < deadline);
		assert_int_equal(event_loop_run_once(f->gw.loop, 100), 0);
	}
	close_lu(f);
	free(c.buf);
}

/* close() with requests still queued and in flight: each done() runs. */
static void test_close_finishes_outstanding(void **state)
{
	struct fixture *f = *state;
	enum { COUNT = 300 };
	struct bs_io *ios = calloc(COUNT + 2, sizeof(*ios));
	uint8_t *buf = alloc_io_buffer(64 * KiB);

	set_spec(f, "file", 32 * MiB, true);
	open_lu_ok(f);
	for (unsigned i = 0; i < COUNT; i++) {
		ios[i] = (struct bs_io){ .op = BS_OP_WRITE, .offset = (uint64_t)i * 64 * KiB,
					 .length = 64 * KiB, .buf = buf };
		submit(f, &ios[i]);
	}
	/* let the first batch reach the kernel, then close mid-flight */
	assert_int_equal(event_loop_run_once(f->gw.loop, 0), 0);
	ios[COUNT] = (struct bs_io){ .op = BS_OP_FLUSH };
	submit(f, &ios[COUNT]);
	ios[COUNT + 1] = (struct bs_io){ .op = BS_OP_UNMAP, .offset = 0, .length = 64 * KiB };
	submit(f, &ios[COUNT + 1]);
	close_lu(f);
	assert_int_equal(f->completions, COUNT + 2);
	for (unsigned i = 0; i < COUNT + 2; i++)
		assert_int_equal(ios[i].result, 0);
	free(ios);
	free(buf);
}

/* tmpfs: no FALLOC_FL_ZERO_RANGE (and, before Linux 6.6, no O_DIRECT), so
 * the fallbacks run. Skipped where /dev/shm is missing. */
static void test_tmpfs_fallbacks(void **state)
{
	struct fixture *f = *state;
	char dir[] = "/dev/shm/test_backstore.XXXXXX", cmd[128];
	uint8_t *buf = alloc_io_buffer(64 * KiB);

	if (!mkdtemp(dir)) {
		free(buf);
		skip();
	}
	snprintf(f->path, sizeof(f->path), "%s/lu.img", dir);
	set_spec(f, "file", 4 * MiB, false);
	open_lu_ok(f);
	assert_int_equal(stat_path(f->path).st_size, 4 * MiB);
	fill_pattern(buf, 64 * KiB, 10);
	assert_int_equal(run_io(f, BS_OP_WRITE, 0, 64 * KiB, buf, true), 0);
	assert_int_equal(run_io(f, BS_OP_WRITE_ZEROES, 100, 5000, NULL, false), 0);
	assert_int_equal(run_io(f, BS_OP_UNMAP, 32 * KiB, 8 * KiB, NULL, false), 0);
	assert_int_equal(run_io(f, BS_OP_FLUSH, 0, 0, NULL, false), 0);
	memset(buf, 0xee, 64 * KiB);
	assert_int_equal(run_io(f, BS_OP_READ, 0, 64 * KiB, buf, false), 0);
	assert_false(all_zero(buf, 100));
	assert_true(all_zero(buf + 100, 5000));
	assert_false(all_zero(buf + 5100, 1000));
	assert_true(all_zero(buf + 32 * KiB, 8 * KiB));
	assert_false(all_zero(buf + 40 * KiB, 4 * KiB));
	close_lu(f);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(buf);
}

/* --- block device (a loop device over a file; skipped where unavailable) - */

static void test_block_device(void **state)
{
	struct fixture *f = *state;
	uint8_t *wbuf = alloc_io_buffer(64 * KiB);
	uint8_t *rbuf = alloc_io_buffer(64 * KiB);
	char backing[PATH_MAX], err[256];
	int ctl, fd, loopfd = -1, n = -1;
	bool mapped;
	uint64_t len;

	snprintf(backing, sizeof(backing), "%s/backing.img", f->dir);
	fd = open(backing, O_CREAT | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 8 * MiB), 0);
	ctl = open("/dev/loop-control", O_RDWR);
	if (ctl >= 0)
		n = ioctl(ctl, LOOP_CTL_GET_FREE);
	if (n >= 0) {
		snprintf(f->path, sizeof(f->path), "/dev/loop%d", n);
		loopfd = open(f->path, O_RDWR);
	}
	if (loopfd < 0 || ioctl(loopfd, LOOP_SET_FD, fd) < 0) {
		if (loopfd >= 0)
			close(loopfd);
		if (ctl >= 0)
			close(ctl);
		close(fd);
		free(wbuf);
		free(rbuf);
		skip();
	}

	set_spec(f, "file", 0, false);
	if (open_lu(f, err, sizeof(err)) != 0) {
		ioctl(loopfd, LOOP_CLR_FD, 0);
		fail_msg("open of %s failed: %s", f->path, err);
	}
	assert_int_equal(f->lu.size_bytes, 8 * MiB);
	fill_pattern(wbuf, 64 * KiB, 9);
	assert_int_equal(run_io(f, BS_OP_WRITE, 1 * MiB, 64 * KiB, wbuf, true), 0);
	assert_int_equal(run_io(f, BS_OP_WRITE, 3 * MiB + 7, 999, wbuf, false), 0);
	assert_int_equal(run_io(f, BS_OP_FLUSH, 0, 0, NULL, false), 0);
	assert_int_equal(run_io(f, BS_OP_READ, 1 * MiB, 64 * KiB, rbuf, false), 0);
	assert_memory_equal(rbuf, wbuf, 64 * KiB);
	assert_int_equal(run_io(f, BS_OP_READ, 3 * MiB + 7, 999, rbuf, false), 0);
	assert_memory_equal(rbuf, wbuf, 999);
	assert_int_equal(run_io(f, BS_OP_UNMAP, 1 * MiB, 64 * KiB, NULL, false), 0);
	assert_int_equal(run_io(f, BS_OP_READ, 1 * MiB, 64 * KiB, rbuf, false), 0);
	assert_true(all_zero(rbuf, 64 * KiB));
	assert_int_equal(run_io(f, BS_OP_WRITE_ZEROES, 3 * MiB, 4 * KiB, NULL, false), 0);
	assert_int_equal(run_io(f, BS_OP_READ, 3 * MiB, 4 * KiB, rbuf, false), 0);
	assert_true(all_zero(rbuf, 4 * KiB));
	assert_int_equal(run_io(f, BS_OP_READ, 8 * MiB, 4 * KiB, rbuf, false), -EINVAL);
	assert_int_equal(f->lu.bs_ops->resize(&f->lu, 16 * MiB), -EOPNOTSUPP);
	assert_int_equal(f->lu.bs_ops->map_status(&f->lu, 0, &mapped, &len), 0);
	assert_true(mapped);
	assert_int_equal(len, 8 * MiB);
	close_lu(f);

	/* a device smaller than asked is refused */
	set_spec(f, "file", 16 * MiB, false);
	assert_true(open_lu(f, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "less than"));

	ioctl(loopfd, LOOP_CLR_FD, 0);
	close(loopfd);
	close(ctl);
	close(fd);
	free(wbuf);
	free(rbuf);
}

/* --- null --------------------------------------------------------------- */

static void test_null(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[4096];
	char err[64];

	set_spec(f, "null", 0, false);
	assert_int_equal(open_lu(f, err, sizeof(err)), 0);
	assert_int_equal(f->lu.size_bytes, 1ull << 30);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(run_io(f, BS_OP_WRITE, 0, sizeof(buf), buf, true), 0);
	assert_int_equal(run_io(f, BS_OP_READ, 4096, sizeof(buf), buf, false), 0);
	assert_true(all_zero(buf, sizeof(buf)));
	assert_int_equal(run_io(f, BS_OP_FLUSH, 0, 0, NULL, false), 0);
	assert_int_equal(run_io(f, BS_OP_UNMAP, 0, 1 * MiB, NULL, false), 0);
	assert_int_equal(run_io(f, BS_OP_WRITE_ZEROES, 0, 1 * MiB, NULL, false), 0);
	assert_int_equal(run_io(f, BS_OP_READ, (1ull << 30) - 512, 1024, buf, false), -EINVAL);
	assert_int_equal(f->lu.bs_ops->resize(&f->lu, 2ull << 30), 0);
	assert_int_equal(f->lu.size_bytes, 2ull << 30);
	close_lu(f);

	set_spec(f, "null", 8 * MiB, false);
	assert_int_equal(open_lu(f, err, sizeof(err)), 0);
	assert_int_equal(f->lu.size_bytes, 8 * MiB);
	close_lu(f);
}

static void test_null_close_completes(void **state)
{
	struct fixture *f = *state;
	struct bs_io ios[8];
	char err[64];

	set_spec(f, "null", 0, false);
	assert_int_equal(open_lu(f, err, sizeof(err)), 0);
	for (unsigned i = 0; i < ARRAY_SIZE(ios); i++) {
		ios[i] = (struct bs_io){ .op = BS_OP_FLUSH };
		submit(f, &ios[i]);
	}
	assert_int_equal(f->completions, 0);
	close_lu(f);
	assert_int_equal(f->completions, ARRAY_SIZE(ios));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_thin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_thick, setup, teardown),
		cmocka_unit_test_setup_teardown(test_existing_file_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aligned_direct_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unaligned_buffered_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fua_and_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_and_map_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_zeroes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_beyond_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_io_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_in_one_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_submit_from_done, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_finishes_outstanding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tmpfs_fallbacks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_close_completes, setup, teardown),
	};

	int failed;

	log_setup("test_backstore", getenv("TEST_LOG_DEBUG") ? LOG_DEBUG : LOG_WARNING, true, false);
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	log_teardown();
	return failed;
}
