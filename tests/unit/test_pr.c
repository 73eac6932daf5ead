/* Unit tests of reservations (gateway/scsi/pr.c): SPC-4 persistent reservations
 * and SPC-2 RESERVE/RELEASE, driven through the core harness with several
 * I_T nexuses. They walk SPC-4's tables: every PERSISTENT RESERVE OUT
 * service action against every reservation type, from the holder, from a
 * registered I_T nexus and from an unregistered one, the access each then
 * has (SPC-4 5.13.1 Table 66, SBC-3 4.17), the unit attentions other
 * nexuses get (SPC-4 5.13.11), APTPL across re-creation of the LU, and
 * the SPC-2 reservation's life (SPC-2 5.5.1). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include "../../gateway/scsi/pr.h"
#include "../../gateway/scsi/scsi_internal.h"
#include "../../gateway/scsi/sense.h"
#include "../../gateway/shared_state.h"
#include "../../gateway/util.h"
#include "core_harness.h"

/* SPC-4 6.16.2 service actions and 6.16.3 types */
enum {
	REGISTER = 0, RESERVE = 1, RELEASE = 2, CLEAR = 3, PREEMPT = 4,
	PREEMPT_AND_ABORT = 5, REGISTER_AND_IGNORE = 6, REGISTER_AND_MOVE = 7,
};
enum { WE = 1, EA = 3, WE_RO = 5, EA_RO = 6, WE_AR = 7, EA_AR = 8 };
enum { READ_KEYS = 0, READ_RESERVATION = 1, REPORT_CAPABILITIES = 2, READ_FULL_STATUS = 3 };

#define SPEC_I_PT 0x08
#define ALL_TG_PT 0x04
#define APTPL     0x01

#define KEY_A 0xaaaa000000000001ULL
#define KEY_B 0xbbbb000000000002ULL
#define KEY_C 0xcccc000000000003ULL

#define NAME_A "iqn.2026-01.org.sangw.test:a"
#define NAME_B "iqn.2026-01.org.sangw.test:b"
#define NAME_C "iqn.2026-01.org.sangw.test:c"

struct ctx {
	struct harness h;
	struct lu *lu;
	struct it_nexus *a, *b, *c;
};

/* --- running commands ------------------------------------------------- */

struct outcome {
	uint8_t status;
	uint8_t key;
	uint16_t asc;
};

static struct outcome run(struct ctx *t, struct it_nexus *nx, const uint8_t *cdb, unsigned cdb_len,
			  enum scsi_data_dir dir, const void *out, uint32_t out_len)
{
	struct harness_result res;
	struct outcome o;

	harness_run(&t->h, nx, 0, cdb, cdb_len, dir, out, out_len, 0, &res);
	o.status = res.status;
	o.key = res.sense_key;
	o.asc = res.asc_ascq;
	harness_result_free(&res);
	return o;
}

static void expect(struct outcome o, uint8_t status, uint8_t key, uint16_t asc, int line)
{
	if (o.status != status || (status == SAM_STAT_CHECK_CONDITION && (o.key != key || o.asc != asc)))
		print_error("line %d: got status 0x%02x sense %x/%04x, expected 0x%02x %x/%04x\n", line,
			    o.status, o.key, o.asc, status, key, asc);
	assert_int_equal(o.status, status);
	if (status == SAM_STAT_CHECK_CONDITION) {
		assert_int_equal(o.key, key);
		assert_int_equal(o.asc, asc);
	}
}

#define EXPECT_GOOD(o)        expect((o), SAM_STAT_GOOD, 0, 0, __LINE__)
#define EXPECT_CONFLICT(o)    expect((o), SAM_STAT_RESERVATION_CONFLICT, 0, 0, __LINE__)
#define EXPECT_CHECK(o, k, a) expect((o), SAM_STAT_CHECK_CONDITION, (k), (a), __LINE__)
#define EXPECT_ILLEGAL(o, a)  EXPECT_CHECK((o), SK_ILLEGAL_REQUEST, (a))

static struct outcome prout_raw(struct ctx *t, struct it_nexus *nx, uint8_t sa, uint8_t scope_type,
				const uint8_t *data, uint32_t len)
{
	uint8_t cdb[10] = { 0x5f, sa, scope_type };

	put_be32(cdb + 5, len);
	return run(t, nx, cdb, sizeof(cdb), SCSI_DIR_OUT, data, len);
}

static struct outcome prout(struct ctx *t, struct it_nexus *nx, uint8_t sa, uint8_t type,
			    uint64_t key, uint64_t sa_key, uint8_t flags)
{
	uint8_t data[24] = { 0 };

	put_be64(data, key);
	put_be64(data + 8, sa_key);
	data[20] = flags;
	return prout_raw(t, nx, sa, type, data, sizeof(data));
}

/* PERSISTENT RESERVE IN; data (if any) is malloc'd into *data. */
static struct outcome prin(struct ctx *t, struct it_nexus *nx, uint8_t sa, uint16_t alloc_len,
			   uint8_t **data, uint32_t *data_len)
{
	uint8_t cdb[10] = { 0x5e, sa };
	struct harness_result res;
	struct outcome o;

	put_be16(cdb + 7, alloc_len);
	harness_run(&t->h, nx, 0, cdb, sizeof(cdb), SCSI_DIR_IN, NULL, 0, alloc_len, &res);
	o.status = res.status;
	o.key = res.sense_key;
	o.asc = res.asc_ascq;
	if (data) {
		*data = res.data;
		*data_len = res.data_len;
		res.data = NULL;
	}
	harness_result_free(&res);
	return o;
}

static struct outcome tur(struct ctx *t, struct it_nexus *nx)
{
	static const uint8_t cdb[6] = { 0x00 };

	return run(t, nx, cdb, sizeof(cdb), SCSI_DIR_NONE, NULL, 0);
}

static struct outcome read10(struct ctx *t, struct it_nexus *nx)
{
	static const uint8_t cdb[10] = { 0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0 };

	return run(t, nx, cdb, sizeof(cdb), SCSI_DIR_IN, NULL, 0);
}

static struct outcome write10(struct ctx *t, struct it_nexus *nx)
{
	static const uint8_t cdb[10] = { 0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0 };
	static const uint8_t block[512];

	return run(t, nx, cdb, sizeof(cdb), SCSI_DIR_OUT, block, sizeof(block));
}

static struct outcome inquiry(struct ctx *t, struct it_nexus *nx)
{
	static const uint8_t cdb[6] = { 0x12, 0, 0, 0, 36, 0 };

	return run(t, nx, cdb, sizeof(cdb), SCSI_DIR_IN, NULL, 0);
}

static struct outcome mode_sense6(struct ctx *t, struct it_nexus *nx)
{
	static const uint8_t cdb[6] = { 0x1a, 0, 0x3f, 0, 0xff, 0 };

	return run(t, nx, cdb, sizeof(cdb), SCSI_DIR_IN, NULL, 0);
}

static struct outcome reserve6(struct ctx *t, struct it_nexus *nx)
{
	static const uint8_t cdb[6] = { 0x16 };

	return run(t, nx, cdb, sizeof(cdb), SCSI_DIR_NONE, NULL, 0);
}

static struct outcome release6(struct ctx *t, struct it_nexus *nx)
{
	static const uint8_t cdb[6] = { 0x17 };

	return run(t, nx, cdb, sizeof(cdb), SCSI_DIR_NONE, NULL, 0);
}

/* Report (and so clear) every pending unit attention; returns how many. */
static int clear_uas(struct ctx *t, struct it_nexus *nx)
{
	int n = 0;

	while (n < 32) {
		struct outcome o = tur(t, nx);

		if (o.status != SAM_STAT_CHECK_CONDITION || o.key != SK_UNIT_ATTENTION)
			break;
		n++;
	}
	return n;
}

/* The next command reports exactly this unit attention, then none is left. */
static void expect_ua(struct ctx *t, struct it_nexus *nx, uint16_t asc, int line)
{
	EXPECT_CHECK(tur(t, nx), SK_UNIT_ATTENTION, asc);
	if (clear_uas(t, nx) != 0)
		fail_msg("line %d: more than one unit attention", line);
}

static void expect_no_ua(struct ctx *t, struct it_nexus *nx, int line)
{
	struct outcome o = tur(t, nx);

	if (o.status == SAM_STAT_CHECK_CONDITION)
		fail_msg("line %d: unexpected sense %x/%04x", line, o.key, o.asc);
}

#define EXPECT_UA(t, nx, asc) expect_ua((t), (nx), (asc), __LINE__)
#define EXPECT_NO_UA(t, nx)   expect_no_ua((t), (nx), __LINE__)

/* --- reading the state back --------------------------------------------- */

struct keys {
	uint32_t generation;
	unsigned count;
	uint64_t key[16];
};

static struct keys read_keys(struct ctx *t, struct it_nexus *nx)
{
	struct keys k = { 0 };
	uint8_t *data;
	uint32_t len;

	EXPECT_GOOD(prin(t, nx, READ_KEYS, 4096, &data, &len));
	assert_true(len >= 8);
	k.generation = get_be32(data);
	assert_int_equal(get_be32(data + 4), len - 8);
	k.count = (len - 8) / 8;
	assert_true(k.count <= 16);
	for (unsigned i = 0; i < k.count; i++)
		k.key[i] = get_be64(data + 8 + 8 * i);
	free(data);
	return k;
}

static bool has_key(const struct keys *k, uint64_t key)
{
	for (unsigned i = 0; i < k->count; i++)
		if (k->key[i] == key)
			return true;
	return false;
}

struct reservation {
	bool reserved;
	uint64_t key;
	uint8_t scope, type;
};

static struct reservation read_reservation(struct ctx *t, struct it_nexus *nx)
{
	struct reservation r = { 0 };
	uint8_t *data;
	uint32_t len;

	EXPECT_GOOD(prin(t, nx, READ_RESERVATION, 4096, &data, &len));
	assert_true(len >= 8);
	if (get_be32(data + 4) == 16) {
		assert_int_equal(len, 24);
		r.reserved = true;
		r.key = get_be64(data + 8);
		r.scope = data[21] >> 4;
		r.type = data[21] & 0x0f;
	} else {
		assert_int_equal(get_be32(data + 4), 0);
		assert_int_equal(len, 8);
	}
	free(data);
	return r;
}

static bool is_all_registrants(uint8_t type)
{
	return type == WE_AR || type == EA_AR;
}

/* --- fixtures ---------------------------------------------------------- */

static int setup(void **state)
{
	struct ctx *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	harness_init(&t->h);
	t->lu = harness_add_lu(&t->h, 0, "null,size=1M");
	assert_non_null(t->lu);
	t->a = harness_nexus(&t->h, NAME_A, 1);
	t->b = harness_nexus(&t->h, NAME_B, 1);
	t->c = harness_nexus(&t->h, NAME_C, 1);
	clear_uas(t, t->a);
	clear_uas(t, t->b);
	clear_uas(t, t->c);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *t = *state;

	if (t->a)
		harness_nexus_free(&t->h, t->a);
	if (t->b)
		harness_nexus_free(&t->h, t->b);
	if (t->c)
		harness_nexus_free(&t->h, t->c);
	harness_fini(&t->h);
	free(t);
	return 0;
}

/* --- REGISTER / REGISTER AND IGNORE EXISTING KEY (SPC-4 5.13.7) ------- */

static void test_register(void **state)
{
	struct ctx *t = *state;
	struct keys k0 = read_keys(t, t->a), k;

	assert_int_equal(k0.count, 0);
	/* Unregistered: a nonzero RESERVATION KEY conflicts. */
	EXPECT_CONFLICT(prout(t, t->a, REGISTER, 0, KEY_B, KEY_A, 0));
	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, 0, KEY_A, 0));
	k = read_keys(t, t->b);
	assert_int_equal(k.count, 1);
	assert_true(k.key[0] == KEY_A);
	assert_int_equal(k.generation, k0.generation + 1);

	/* Registered: the key must match (libiscsi ProutRegister.Simple). */
	EXPECT_CONFLICT(prout(t, t->a, REGISTER, 0, 0, KEY_A + 1, 0));
	EXPECT_CONFLICT(prout(t, t->a, REGISTER, 0, KEY_B, KEY_A + 1, 0));
	assert_int_equal(read_keys(t, t->a).generation, k0.generation + 1);

	/* Change the key, then change it ignoring the old one. */
	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, KEY_A, KEY_C, 0));
	EXPECT_GOOD(prout(t, t->a, REGISTER_AND_IGNORE, 0, 0x1234, KEY_A, 0));
	k = read_keys(t, t->a);
	assert_int_equal(k.count, 1);
	assert_true(k.key[0] == KEY_A);
	assert_int_equal(k.generation, k0.generation + 3);

	/* A second I_T nexus registers on its own. */
	EXPECT_GOOD(prout(t, t->b, REGISTER_AND_IGNORE, 0, 0, KEY_B, 0));
	k = read_keys(t, t->c);
	assert_int_equal(k.count, 2);
	assert_true(has_key(&k, KEY_A) && has_key(&k, KEY_B));

	/* Unregister with SERVICE ACTION RESERVATION KEY zero. */
	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, KEY_A, 0, 0));
	k = read_keys(t, t->c);
	assert_int_equal(k.count, 1);
	assert_true(k.key[0] == KEY_B);
	EXPECT_GOOD(prout(t, t->b, REGISTER_AND_IGNORE, 0, 0, 0, 0));
	assert_int_equal(read_keys(t, t->c).count, 0);
	/* An unregistered nexus unregistering: nothing to do, GOOD. */
	EXPECT_GOOD(prout(t, t->c, REGISTER, 0, 0, 0, 0));
	assert_int_equal(read_keys(t, t->c).count, 0);
}

/* Registrations belong to the I_T nexus identity, not the session: they
 * survive its loss (SPC-4 5.13.2) and a new session of the same initiator
 * port finds them. */
static void test_registration_survives_nexus_loss(void **state)
{
	struct ctx *t = *state;

	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, 0, KEY_A, 0));
	EXPECT_GOOD(prout(t, t->a, RESERVE, EA, KEY_A, 0, 0));
	harness_nexus_free(&t->h, t->a);
	t->a = harness_nexus(&t->h, NAME_A, 1);
	clear_uas(t, t->a);
	EXPECT_GOOD(write10(t, t->a));
	EXPECT_CONFLICT(write10(t, t->b));
	EXPECT_GOOD(prout(t, t->a, RELEASE, EA, KEY_A, 0, 0));
	/* Another ISID is another initiator port: not registered. */
	{
		struct it_nexus *other = harness_nexus(&t->h, NAME_A, 2);

		clear_uas(t, other);
		EXPECT_CONFLICT(prout(t, other, RESERVE, EA, KEY_A, 0, 0));
		harness_nexus_free(&t->h, other);
	}
}

/* --- parameter and CDB checks (SPC-4 6.16) ------------------------------ */

static void test_prout_bad_input(void **state)
{
	struct ctx *t = *state;
	uint8_t data[64] = { 0 };

	/* PARAMETER LIST LENGTH must be 24 without SPEC_I_PT. */
	EXPECT_ILLEGAL(prout_raw(t, t->a, REGISTER, 0, data, 23), ASC_PARAMETER_LIST_LENGTH_ERROR);
	EXPECT_ILLEGAL(prout_raw(t, t->a, REGISTER, 0, data, 28), ASC_PARAMETER_LIST_LENGTH_ERROR);
	EXPECT_ILLEGAL(prout_raw(t, t->a, REGISTER, 0, data, 0), ASC_PARAMETER_LIST_LENGTH_ERROR);
	/* Unsupported service action, bad scope, bad type. */
	EXPECT_ILLEGAL(prout(t, t->a, 0x08, WE, 0, KEY_A, 0), ASC_INVALID_FIELD_IN_CDB);
	EXPECT_ILLEGAL(prout(t, t->a, 0x1f, WE, 0, KEY_A, 0), ASC_INVALID_FIELD_IN_CDB);
	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, 0, KEY_A, 0));
	EXPECT_ILLEGAL(prout(t, t->a, RESERVE, 0x10 | WE, KEY_A, 0, 0), ASC_INVALID_FIELD_IN_CDB);
	for (uint8_t type = 0; type < 16; type++) {
		if (type == WE || type == EA || (type >= WE_RO && type <= EA_AR))
			continue;
		EXPECT_ILLEGAL(prout(t, t->a, RESERVE, type, KEY_A, 0, 0), ASC_INVALID_FIELD_IN_CDB);
		EXPECT_ILLEGAL(prout(t, t->a, PREEMPT, type, KEY_A, KEY_A, 0), ASC_INVALID_FIELD_IN_CDB);
	}
	/* SPEC_I_PT only with REGISTER. */
	EXPECT_ILLEGAL(prout(t, t->a, RESERVE, WE, KEY_A, 0, SPEC_I_PT),
		       ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	EXPECT_ILLEGAL(prout(t, t->b, REGISTER_AND_IGNORE, 0, 0, KEY_B, SPEC_I_PT),
		       ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	/* Nothing of that changed the state. */
	assert_int_equal(read_keys(t, t->a).count, 1);
	assert_false(read_reservation(t, t->a).reserved);
}

static void test_prin_basics(void **state)
{
	struct ctx *t = *state;
	uint8_t *data;
	uint32_t len;

	/* Service actions past READ FULL STATUS: INVALID FIELD IN CDB (libiscsi
	 * PrinServiceactionRange wants it, not INVALID OPERATION CODE). */
	for (uint8_t sa = 4; sa < 0x20; sa++)
		EXPECT_ILLEGAL(prin(t, t->a, sa, 4096, NULL, NULL), ASC_INVALID_FIELD_IN_CDB);

	/* REPORT CAPABILITIES (SPC-4 6.15.4). */
	EXPECT_GOOD(prin(t, t->a, REPORT_CAPABILITIES, 4096, &data, &len));
	assert_int_equal(len, 8);
	assert_int_equal(get_be16(data), 8);
	assert_int_equal(data[2] & 0x1d, 0x0d);     /* SIP_C, ATP_C, PTPL_C; CRH 0 */
	assert_int_equal(data[3] & 0x80, 0x80);     /* TMV */
	assert_true(((data[3] >> 4) & 7) <= 5);     /* ALLOW COMMANDS */
	assert_int_equal(data[3] & 0x01, 0);        /* PTPL_A: APTPL not active */
	assert_int_equal(get_be16(data + 4), 0xea01);
	free(data);

	/* READ KEYS truncated to 8 bytes keeps the full ADDITIONAL LENGTH
	 * (libiscsi PrinReadKeys.Truncate, SPC-4 6.15.2). */
	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, 0, KEY_A, 0));
	EXPECT_GOOD(prout(t, t->b, REGISTER, 0, 0, KEY_B, 0));
	EXPECT_GOOD(prin(t, t->a, READ_KEYS, 8, &data, &len));
	assert_int_equal(len, 8);
	assert_int_equal(get_be32(data + 4), 16);
	free(data);
	EXPECT_GOOD(prin(t, t->a, READ_KEYS, 12, &data, &len));
	assert_int_equal(len, 12);
	free(data);
	/* READ RESERVATION with nothing reserved. */
	assert_false(read_reservation(t, t->c).reserved);
}

/* An FC initiator port (fabric/fcoe/: "naa." and its WWPN) reads back
 * with the FC TransportID (SPC-4 7.6.4.2): protocol 0, 24 bytes, the
 * N_Port_Name at bytes 8-15. */
static void test_read_full_status_fc(void **state)
{
	struct ctx *t = *state;
	struct it_nexus *fc = harness_nexus(&t->h, "naa.2000525400534702", 9);
	uint8_t *data;
	uint32_t len;

	str_copy(fc->initiator_port, "naa.2000525400534702", sizeof(fc->initiator_port));
	clear_uas(t, fc);
	EXPECT_GOOD(prout(t, fc, REGISTER, 0, 0, KEY_C, 0));
	EXPECT_GOOD(prin(t, t->a, READ_FULL_STATUS, 4096, &data, &len));
	assert_int_equal(len, 8 + 24 + 24);
	assert_true(get_be64(data + 8) == KEY_C);
	assert_int_equal(get_be32(data + 8 + 20), 24);
	assert_int_equal(data[8 + 24], 0x00);            /* format 00b, FC */
	assert_true(get_be64(data + 8 + 24 + 8) == 0x2000525400534702ULL);
	free(data);
	harness_nexus_free(&t->h, fc);
}

/* READ FULL STATUS (SPC-4 6.15.5): one descriptor per registration with
 * its iSCSI TransportID (SPC-4 7.6.4.6). */
static void test_read_full_status(void **state)
{
	struct ctx *t = *state;
	uint8_t *data;
	uint32_t len, off, total;
	unsigned seen = 0;

	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, 0, KEY_A, 0));
	EXPECT_GOOD(prout(t, t->b, REGISTER, 0, 0, KEY_B, ALL_TG_PT));
	EXPECT_GOOD(prout(t, t->a, RESERVE, WE_RO, KEY_A, 0, 0));
	EXPECT_GOOD(prin(t, t->c, READ_FULL_STATUS, 4096, &data, &len));
	total = get_be32(data + 4);
	assert_int_equal(total, len - 8);
	for (off = 8; off < len; seen++) {
		const uint8_t *d = data + off;
		uint32_t tid_len = get_be32(d + 20);
		const uint8_t *tid = d + 24;
		const char *port = (const char *)tid + 4;

		assert_true(off + 24 + tid_len <= len);
		assert_int_equal(tid[0], 0x45);              /* format 01b, iSCSI */
		assert_int_equal(get_be16(tid + 2) + 4, tid_len);
		assert_int_equal(tid_len % 4, 0);
		if (get_be64(d) == KEY_A) {
			assert_int_equal(d[12], 0x01);        /* R_HOLDER */
			assert_int_equal(d[13], WE_RO);
			assert_int_equal(get_be16(d + 18), t->a->rel_tgt_port_id);
			assert_string_equal(port, t->a->initiator_port);
		} else {
			assert_true(get_be64(d) == KEY_B);
			assert_int_equal(d[12], 0x02);        /* ALL_TG_PT, not holder */
			assert_string_equal(port, t->b->initiator_port);
		}
		off += 24 + tid_len;
	}
	assert_int_equal(seen, 2);
	free(data);
	/* Truncated: the header still tells the whole length. */
	EXPECT_GOOD(prin(t, t->c, READ_FULL_STATUS, 8, &data, &len));
	assert_int_equal(len, 8);
	assert_int_equal(get_be32(data + 4), total);
	free(data);
}

/* --- every type: RESERVE, access, RELEASE (SPC-4 5.13.1, 5.13.10-11) -- */

enum cls { ALLOWED, CONFLICT };

/* SPC-4 Table 66 / SBC-3 Table 13 for an I_T nexus that is not the holder. */
static enum cls expected_access(uint8_t type, bool registered, bool is_write)
{
	bool exclusive_access = type == EA || type == EA_RO || type == EA_AR;
	bool registrants_may = type != WE && type != EA;

	if (registrants_may && registered)
		return ALLOWED;
	if (is_write)
		return CONFLICT;
	return exclusive_access ? CONFLICT : ALLOWED;
}

/* What a command of this class may do, per its opcode table entry. */
static enum cls expected_for_class(enum pr_access access, uint8_t type, bool holder,
				   bool registered)
{
	if (holder || access == PR_ACCESS_ALLOWED)
		return ALLOWED;
	return expected_access(type, registered, access != PR_ACCESS_READ);
}

static void check_access(struct ctx *t, struct it_nexus *nx, uint8_t type, bool holder,
			 bool registered)
{
	const struct scsi_opcode_desc *mode_sense = scsi_opcode_lookup(0x1a, 0);

	if (expected_for_class(PR_ACCESS_READ, type, holder, registered) == ALLOWED)
		EXPECT_GOOD(read10(t, nx));
	else
		EXPECT_CONFLICT(read10(t, nx));
	if (expected_for_class(PR_ACCESS_WRITE, type, holder, registered) == ALLOWED)
		EXPECT_GOOD(write10(t, nx));
	else
		EXPECT_CONFLICT(write10(t, nx));
	/* MODE SENSE under Write Exclusive is the device's choice (SPC-4
	 * 6.15.4 ALLOW COMMANDS): it follows the class its table declares. */
	assert_non_null(mode_sense);
	if (expected_for_class(mode_sense->pr_access, type, holder, registered) == ALLOWED)
		EXPECT_GOOD(mode_sense6(t, nx));
	else
		EXPECT_CONFLICT(mode_sense6(t, nx));
	/* Always allowed: TEST UNIT READY, INQUIRY, PERSISTENT RESERVE IN. */
	EXPECT_GOOD(tur(t, nx));
	EXPECT_GOOD(inquiry(t, nx));
	read_keys(t, nx);
}

static void walk_type(struct ctx *t, uint8_t type)
{
	uint8_t other = type == WE ? EA : WE;
	bool ar = is_all_registrants(type);
	struct reservation r;
	uint32_t gen;

	/* A and B registered, C not. */
	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, 0, KEY_A, 0));
	EXPECT_GOOD(prout(t, t->b, REGISTER, 0, 0, KEY_B, 0));
	gen = read_keys(t, t->a).generation;

	/* RESERVE: unregistered or wrong key conflicts; A gets it. */
	EXPECT_CONFLICT(prout(t, t->c, RESERVE, type, 0, 0, 0));
	EXPECT_CONFLICT(prout(t, t->c, RESERVE, type, KEY_A, 0, 0));
	EXPECT_CONFLICT(prout(t, t->a, RESERVE, type, KEY_B, 0, 0));
	EXPECT_GOOD(prout(t, t->a, RESERVE, type, KEY_A, 0, 0));
	r = read_reservation(t, t->c);
	assert_true(r.reserved);
	assert_int_equal(r.type, type);
	assert_int_equal(r.scope, 0);
	assert_true(r.key == (ar ? 0 : KEY_A));  /* SPC-4 6.15.3.3 */
	/* RESERVE and RELEASE do not change PRgeneration. */
	assert_int_equal(read_keys(t, t->a).generation, gen);

	/* The holder may repeat it but not change the type; others conflict
	 * unless, in all registrants types, they hold it too. */
	EXPECT_GOOD(prout(t, t->a, RESERVE, type, KEY_A, 0, 0));
	EXPECT_CONFLICT(prout(t, t->a, RESERVE, other, KEY_A, 0, 0));
	if (ar)
		EXPECT_GOOD(prout(t, t->b, RESERVE, type, KEY_B, 0, 0));
	else
		EXPECT_CONFLICT(prout(t, t->b, RESERVE, type, KEY_B, 0, 0));
	EXPECT_CONFLICT(prout(t, t->b, RESERVE, other, KEY_B, 0, 0));

	/* Access of holder, registrant, and unregistered I_T nexus. */
	check_access(t, t->a, type, true, true);
	check_access(t, t->b, type, ar, true);
	check_access(t, t->c, type, false, false);

	/* Registration is still allowed from anyone under any type. */
	EXPECT_GOOD(prout(t, t->c, REGISTER, 0, 0, KEY_C, 0));
	check_access(t, t->c, type, ar, true);
	EXPECT_GOOD(prout(t, t->c, REGISTER, 0, KEY_C, 0, 0));

	/* RELEASE: unregistered conflicts; wrong type from the holder is an
	 * INVALID RELEASE; a registered non-holder's is GOOD and does nothing. */
	EXPECT_CONFLICT(prout(t, t->c, RELEASE, type, KEY_C, 0, 0));
	EXPECT_CONFLICT(prout(t, t->a, RELEASE, type, KEY_B, 0, 0));
	EXPECT_ILLEGAL(prout(t, t->a, RELEASE, other, KEY_A, 0, 0), ASC_INVALID_RELEASE_OF_PR);
	if (!ar) {
		EXPECT_GOOD(prout(t, t->b, RELEASE, type, KEY_B, 0, 0));
		assert_true(read_reservation(t, t->a).reserved);
	}
	EXPECT_NO_UA(t, t->a);
	EXPECT_NO_UA(t, t->b);
	EXPECT_NO_UA(t, t->c);

	EXPECT_GOOD(prout(t, ar ? t->b : t->a, RELEASE, type, ar ? KEY_B : KEY_A, 0, 0));
	assert_false(read_reservation(t, t->c).reserved);
	/* C's REGISTER and unregister counted; RESERVE and RELEASE did not. */
	assert_int_equal(read_keys(t, t->c).generation, gen + 2);
	/* SPC-4 5.13.11.2.2: registrants only and all registrants releases are
	 * told to the other registrants, not to the releaser or outsiders. */
	if (type == WE || type == EA) {
		EXPECT_NO_UA(t, t->a);
		EXPECT_NO_UA(t, t->b);
	} else if (ar) {
		EXPECT_UA(t, t->a, ASC_RESERVATIONS_RELEASED);
		EXPECT_NO_UA(t, t->b);
	} else {
		EXPECT_NO_UA(t, t->a);
		EXPECT_UA(t, t->b, ASC_RESERVATIONS_RELEASED);
	}
	EXPECT_NO_UA(t, t->c);
	/* Released: everyone has access again. */
	EXPECT_GOOD(write10(t, t->c));
	/* RELEASE with nothing reserved: GOOD. */
	EXPECT_GOOD(prout(t, t->a, RELEASE, type, KEY_A, 0, 0));
}

static void test_type_we(void **state) { walk_type(*state, WE); }
static void test_type_ea(void **state) { walk_type(*state, EA); }
static void test_type_we_ro(void **state) { walk_type(*state, WE_RO); }
static void test_type_ea_ro(void **state) { walk_type(*state, EA_RO); }
static void test_type_we_ar(void **state) { walk_type(*state, WE_AR); }
static void test_type_ea_ar(void **state) { walk_type(*state, EA_AR); }

/* Unregistering the holder (SPC-4 5.13.11.3; libiscsi ProutReserve.Ownership*). */
static void unregister_holder(struct ctx *t, uint8_t type)
{
	bool ar = is_all_registrants(type);

	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, 0, KEY_A, 0));
	EXPECT_GOOD(prout(t, t->b, REGISTER, 0, 0, KEY_B, 0));
	EXPECT_GOOD(prout(t, t->a, RESERVE, type, KEY_A, 0, 0));
	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, KEY_A, 0, 0));
	if (ar) {
		/* B still holds it, and can release it. */
		struct reservation r = read_reservation(t, t->a);

		assert_true(r.reserved);
		assert_int_equal(r.type, type);
		EXPECT_NO_UA(t, t->b);
		EXPECT_GOOD(write10(t, t->b));
		EXPECT_GOOD(prout(t, t->b, RELEASE, type, KEY_B, 0, 0));
	} else {
		assert_false(read_reservation(t, t->a).reserved);
		if (type == WE_RO || type == EA_RO)
			EXPECT_UA(t, t->b, ASC_RESERVATIONS_RELEASED);
		else
			EXPECT_NO_UA(t, t->b);
	}
	EXPECT_NO_UA(t, t->a);
	EXPECT_GOOD(prout(t, t->b, REGISTER, 0, KEY_B, 0, 0));
	assert_false(read_reservation(t, t->a).reserved);
	assert_int_equal(read_keys(t, t->a).count, 0);
}

static void test_unregister_holder(void **state)
{
	static const uint8_t types[] = { WE, EA, WE_RO, EA_RO, WE_AR, EA_AR };

	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		unregister_holder(*state, types[i]);
}

/* An all registrants reservation ends with its last registrant. */
static void test_all_registrants_last_leaves(void **state)
{
	struct ctx *t = *state;

	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, 0, KEY_A, 0));
	EXPECT_GOOD(prout(t, t->a, RESERVE, EA_AR, KEY_A, 0, 0));
	EXPECT_GOOD(prout(t, t->b, REGISTER, 0, 0, KEY_B, 0));
	/* B registered after the reservation: a holder too. */
	EXPECT_GOOD(read10(t, t->b));
	EXPECT_CONFLICT(read10(t, t->c));
	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, KEY_A, 0, 0));
	assert_true(read_reservation(t, t->c).reserved);
	EXPECT_GOOD(prout(t, t->b, REGISTER_AND_IGNORE, 0, 0, 0, 0));
	assert_false(read_reservation(t, t->c).reserved);
	EXPECT_GOOD(read10(t, t->c));
}

/* --- CLEAR (SPC-4 5.13.11.2.? clearing) ---------------------------------- */

static void test_clear(void **state)
{
	struct ctx *t = *state;
	uint32_t gen;

	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, 0, KEY_A, 0));
	EXPECT_GOOD(prout(t, t->b, REGISTER, 0, 0, KEY_B, 0));
	EXPECT_GOOD(prout(t, t->a, RESERVE, EA, KEY_A, 0, 0));
	gen = read_keys(t, t->a).generation;
	EXPECT_CONFLICT(prout(t, t->c, CLEAR, 0, 0, 0, 0));
	EXPECT_CONFLICT(prout(t, t->b, CLEAR, 0, KEY_A, 0, 0));
	/* A non-holder registrant may clear. */
	EXPECT_GOOD(prout(t, t->b, CLEAR, 0, KEY_B, 0, 0));
	assert_false(read_reservation(t, t->c).reserved);
	assert_int_equal(read_keys(t, t->c).count, 0);
	assert_int_equal(read_keys(t, t->c).generation, gen + 1);
	EXPECT_UA(t, t->a, ASC_RESERVATIONS_PREEMPTED);
	EXPECT_NO_UA(t, t->b);
	EXPECT_NO_UA(t, t->c);
	EXPECT_GOOD(write10(t, t->c));
}

/* --- PREEMPT / PREEMPT AND ABORT (SPC-4 5.13.11.4) ---------------------- */

/* libiscsi ProutPreempt.RemoveRegistration: without a reservation, a
 * registrant removes another's registration. */
static void test_preempt_registration(void **state)
{
	struct ctx *t = *state;
	struct keys k;
	uint32_t gen;

	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, 0, KEY_A, 0));
	EXPECT_GOOD(prout(t, t->b, REGISTER, 0, 0, KEY_B, 0));
	gen = read_keys(t, t->a).generation;
	EXPECT_CONFLICT(prout(t, t->c, PREEMPT, EA, 0, KEY_A, 0));        /* unregistered */
	EXPECT_CONFLICT(prout(t, t->b, PREEMPT, EA, KEY_C, KEY_A, 0));    /* wrong key */
	EXPECT_CONFLICT(prout(t, t->b, PREEMPT, EA, KEY_B, KEY_C, 0));    /* no such key */
	EXPECT_ILLEGAL(prout(t, t->b, PREEMPT, EA, KEY_B, 0, 0), ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	EXPECT_GOOD(prout(t, t->b, PREEMPT, EA, KEY_B, KEY_A, 0));
	k = read_keys(t, t->c);
	assert_int_equal(k.count, 1);
	assert_true(k.key[0] == KEY_B);
	assert_int_equal(k.generation, gen + 1);
	/* No reservation was made by that. */
	assert_false(read_reservation(t, t->c).reserved);
	EXPECT_UA(t, t->a, ASC_REGISTRATIONS_PREEMPTED);
	EXPECT_NO_UA(t, t->b);
	EXPECT_NO_UA(t, t->c);
}

/* Preempting the holder: its registration goes, the preemptor holds the
 * new type, other registrants hear RESERVATIONS RELEASED when the type
 * changed. */
static void test_preempt_reservation(void **state)
{
	struct ctx *t = *state;
	struct reservation r;
	struct keys k;

	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, 0, KEY_A, 0));
	EXPECT_GOOD(prout(t, t->b, REGISTER, 0, 0, KEY_B, 0));
	EXPECT_GOOD(prout(t, t->c, REGISTER, 0, 0, KEY_C, 0));
	EXPECT_GOOD(prout(t, t->a, RESERVE, WE, KEY_A, 0, 0));
	EXPECT_GOOD(prout(t, t->b, PREEMPT, EA, KEY_B, KEY_A, 0));
	r = read_reservation(t, t->b);
	assert_true(r.reserved);
	assert_int_equal(r.type, EA);
	assert_true(r.key == KEY_B);
	k = read_keys(t, t->b);
	assert_int_equal(k.count, 2);
	assert_false(has_key(&k, KEY_A));
	EXPECT_UA(t, t->a, ASC_REGISTRATIONS_PREEMPTED);
	EXPECT_UA(t, t->c, ASC_RESERVATIONS_RELEASED);
	EXPECT_NO_UA(t, t->b);
	EXPECT_CONFLICT(read10(t, t->a));
	EXPECT_CONFLICT(read10(t, t->c));
	EXPECT_GOOD(write10(t, t->b));

	/* The holder preempts itself to change the type: C hears it. */
	EXPECT_GOOD(prout(t, t->b, PREEMPT, WE, KEY_B, KEY_B, 0));
	r = read_reservation(t, t->b);
	assert_int_equal(r.type, WE);
	assert_int_equal(read_keys(t, t->b).count, 2);
	EXPECT_UA(t, t->c, ASC_RESERVATIONS_RELEASED);
	EXPECT_GOOD(read10(t, t->c));

	/* A non-holder key only removes registrations; the reservation stays. */
	EXPECT_GOOD(prout(t, t->b, PREEMPT, EA, KEY_B, KEY_C, 0));
	r = read_reservation(t, t->b);
	assert_int_equal(r.type, WE);
	assert_int_equal(read_keys(t, t->b).count, 1);
	EXPECT_UA(t, t->c, ASC_REGISTRATIONS_PREEMPTED);
}

/* All registrants: key zero removes everyone else and makes a new
 * reservation; a nonzero key only removes those registrations. */
static void test_preempt_all_registrants(void **state)
{
	struct ctx *t = *state;
	struct reservation r;
	struct keys k;

	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, 0, KEY_A, 0));
	EXPECT_GOOD(prout(t, t->b, REGISTER, 0, 0, KEY_B, 0));
	EXPECT_GOOD(prout(t, t->c, REGISTER, 0, 0, KEY_C, 0));
	EXPECT_GOOD(prout(t, t->a, RESERVE, WE_AR, KEY_A, 0, 0));
	EXPECT_GOOD(prout(t, t->b, PREEMPT, WE_AR, KEY_B, KEY_C, 0));
	r = read_reservation(t, t->a);
	assert_int_equal(r.type, WE_AR);
	assert_int_equal(read_keys(t, t->a).count, 2);
	EXPECT_UA(t, t->c, ASC_REGISTRATIONS_PREEMPTED);
	EXPECT_NO_UA(t, t->a);

	EXPECT_GOOD(prout(t, t->b, PREEMPT, EA, KEY_B, 0, 0));
	r = read_reservation(t, t->c);
	assert_true(r.reserved);
	assert_int_equal(r.type, EA);
	assert_true(r.key == KEY_B);
	k = read_keys(t, t->b);
	assert_int_equal(k.count, 1);
	assert_true(k.key[0] == KEY_B);
	EXPECT_UA(t, t->a, ASC_REGISTRATIONS_PREEMPTED);
	EXPECT_NO_UA(t, t->b);
	EXPECT_CONFLICT(read10(t, t->a));
}

/* PREEMPT AND ABORT: the preempted nexuses' tasks on the LU are aborted,
 * the preemptor's are not. */
static void test_preempt_and_abort(void **state)
{
	struct ctx *t = *state;
	struct scsi_cmd from_a, from_b;

	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, 0, KEY_A, 0));
	EXPECT_GOOD(prout(t, t->b, REGISTER, 0, 0, KEY_B, 0));
	EXPECT_GOOD(prout(t, t->a, RESERVE, WE, KEY_A, 0, 0));

	/* Two tasks in flight on the LU, one from each of A and B. */
	memset(&from_a, 0, sizeof(from_a));
	memset(&from_b, 0, sizeof(from_b));
	from_a.nexus = t->a;
	from_a.lu = t->lu;
	from_a.state = CMD_RUNNING;
	from_b = from_a;
	from_b.nexus = t->b;
	TAILQ_INSERT_TAIL(&t->lu->tasks[0].cmds, &from_a, task_link);
	TAILQ_INSERT_TAIL(&t->lu->tasks[0].cmds, &from_b, task_link);
	t->lu->tasks[0].running += 2;

	EXPECT_GOOD(prout(t, t->b, PREEMPT_AND_ABORT, EA, KEY_B, KEY_A, 0));
	TAILQ_REMOVE(&t->lu->tasks[0].cmds, &from_a, task_link);
	TAILQ_REMOVE(&t->lu->tasks[0].cmds, &from_b, task_link);
	t->lu->tasks[0].running -= 2;
	assert_true(from_a.aborted);
	assert_false(from_b.aborted);

	assert_int_equal(read_reservation(t, t->b).type, EA);
	assert_int_equal(read_keys(t, t->b).count, 1);
	EXPECT_UA(t, t->a, ASC_REGISTRATIONS_PREEMPTED);
}

/* --- REGISTER AND MOVE (SPC-4 5.13.8) ----------------------------------- */

static struct outcome register_and_move(struct ctx *t, struct it_nexus *nx, uint8_t type,
					uint64_t key, uint64_t sa_key, bool unreg,
					const char *dest_port, uint8_t format, uint16_t rel_port)
{
	uint8_t data[24 + 4 + 256] = { 0 };
	size_t n = strlen(dest_port) + 1;
	uint16_t addl = (uint16_t)MAX((n + 3) & ~(size_t)3, 20);

	put_be64(data, key);
	put_be64(data + 8, sa_key);
	data[17] = unreg ? 0x02 : 0;
	put_be16(data + 18, rel_port);
	put_be32(data + 20, 4u + addl);
	data[24] = (uint8_t)(format << 6 | 0x05);
	put_be16(data + 26, addl);
	memcpy(data + 28, dest_port, n);
	return prout_raw(t, nx, REGISTER_AND_MOVE, type, data, 28 + addl);
}

static void test_register_and_move(void **state)
{
	struct ctx *t = *state;
	const char *b_port = t->b->initiator_port;
	struct reservation r;
	struct keys k;
	uint32_t gen;

	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, 0, KEY_A, 0));
	EXPECT_GOOD(prout(t, t->c, REGISTER, 0, 0, KEY_C, 0));
	/* No reservation: nothing to move. */
	EXPECT_CONFLICT(register_and_move(t, t->a, WE, KEY_A, KEY_B, false, b_port, 1, 1));
	EXPECT_GOOD(prout(t, t->a, RESERVE, WE, KEY_A, 0, 0));
	/* Only the holder moves it. */
	EXPECT_CONFLICT(register_and_move(t, t->c, WE, KEY_C, KEY_B, false, b_port, 1, 1));
	EXPECT_CONFLICT(register_and_move(t, t->b, WE, 0, KEY_B, false, b_port, 1, 1));
	EXPECT_CONFLICT(register_and_move(t, t->a, WE, KEY_C, KEY_B, false, b_port, 1, 1));
	/* Not to itself, not with key zero, not without an ISID. */
	EXPECT_ILLEGAL(register_and_move(t, t->a, WE, KEY_A, KEY_B, false, t->a->initiator_port, 1,
					 t->a->rel_tgt_port_id),
		       ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	EXPECT_ILLEGAL(register_and_move(t, t->a, WE, KEY_A, 0, false, b_port, 1, 1),
		       ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	EXPECT_ILLEGAL(register_and_move(t, t->a, WE, KEY_A, KEY_B, false, NAME_B, 0, 1),
		       ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	EXPECT_ILLEGAL(register_and_move(t, t->a, WE, KEY_A, KEY_B, false, b_port, 1, 0),
		       ASC_INVALID_FIELD_IN_PARAMETER_LIST);

	gen = read_keys(t, t->a).generation;
	EXPECT_GOOD(register_and_move(t, t->a, EA, KEY_A, KEY_B, true, b_port, 1,
				      t->b->rel_tgt_port_id));
	r = read_reservation(t, t->c);
	assert_true(r.reserved);
	assert_int_equal(r.type, EA);
	assert_true(r.key == KEY_B);
	k = read_keys(t, t->c);
	assert_int_equal(k.generation, gen + 1);
	assert_int_equal(k.count, 2);
	assert_true(has_key(&k, KEY_B) && has_key(&k, KEY_C) && !has_key(&k, KEY_A));
	EXPECT_GOOD(write10(t, t->b));
	EXPECT_CONFLICT(read10(t, t->a));

	/* All registrants reservations have no single holder to move. */
	EXPECT_GOOD(prout(t, t->b, PREEMPT, WE_AR, KEY_B, KEY_B, 0));
	EXPECT_CONFLICT(register_and_move(t, t->b, WE, KEY_B, KEY_A, false, t->a->initiator_port, 1,
					  1));
}

/* --- SPEC_I_PT and ALL_TG_PT (SPC-4 5.13.7, 6.16.4) --------------------- */

static uint32_t put_transport_id(uint8_t *p, const char *port, uint8_t format)
{
	size_t n = strlen(port) + 1;
	uint16_t addl = (uint16_t)MAX((n + 3) & ~(size_t)3, 20);

	memset(p, 0, 4u + addl);
	p[0] = (uint8_t)(format << 6 | 0x05);
	put_be16(p + 2, addl);
	memcpy(p + 4, port, n);
	return 4u + addl;
}

static void test_spec_i_pt(void **state)
{
	struct ctx *t = *state;
	uint8_t data[1024] = { 0 };
	uint32_t off = 28;
	struct keys k;

	put_be64(data + 8, KEY_A);
	data[20] = SPEC_I_PT;
	off += put_transport_id(data + off, t->b->initiator_port, 1);
	off += put_transport_id(data + off, NAME_C, 0);       /* every port of C */
	put_be32(data + 24, off - 28);

	/* Truncated lists: PARAMETER LIST LENGTH ERROR, nothing registered. */
	EXPECT_ILLEGAL(prout_raw(t, t->a, REGISTER, 0, data, 27), ASC_PARAMETER_LIST_LENGTH_ERROR);
	EXPECT_ILLEGAL(prout_raw(t, t->a, REGISTER, 0, data, off - 4), ASC_PARAMETER_LIST_LENGTH_ERROR);
	assert_int_equal(read_keys(t, t->c).count, 0);
	/* A TransportID of another protocol is refused. */
	data[28] = 0x41;
	EXPECT_ILLEGAL(prout_raw(t, t->a, REGISTER, 0, data, off), ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	data[28] = 0x45;
	assert_int_equal(read_keys(t, t->c).count, 0);

	EXPECT_GOOD(prout_raw(t, t->a, REGISTER, 0, data, off));
	k = read_keys(t, t->c);
	assert_int_equal(k.count, 3);
	for (unsigned i = 0; i < k.count; i++)
		assert_true(k.key[i] == KEY_A);
	/* B and every port of C are registered with the key. */
	EXPECT_GOOD(prout(t, t->b, RESERVE, WE, KEY_A, 0, 0));
	EXPECT_GOOD(write10(t, t->b));
	{
		struct it_nexus *c2 = harness_nexus(&t->h, NAME_C, 7);

		clear_uas(t, c2);
		EXPECT_GOOD(prout(t, c2, REGISTER, 0, KEY_A, KEY_C, 0));
		harness_nexus_free(&t->h, c2);
	}
	EXPECT_GOOD(prout(t, t->b, RELEASE, WE, KEY_A, 0, 0));

	/* From a registered nexus (with its key: else a conflict), or naming
	 * a registered port: refused. */
	EXPECT_CONFLICT(prout_raw(t, t->a, REGISTER, 0, data, off));
	put_be64(data, KEY_A);
	EXPECT_ILLEGAL(prout_raw(t, t->a, REGISTER, 0, data, off), ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	put_be64(data, 0);
	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, KEY_A, 0, 0));
	EXPECT_ILLEGAL(prout_raw(t, t->a, REGISTER, 0, data, off), ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	/* All or nothing: A did not get registered by the failed attempt. */
	EXPECT_CONFLICT(prout(t, t->a, RESERVE, WE, KEY_A, 0, 0));
}

static void test_all_tg_pt(void **state)
{
	struct ctx *t = *state;
	struct it_nexus *a2 = harness_nexus(&t->h, NAME_A, 1);

	/* The same initiator port through another target port. */
	a2->rel_tgt_port_id = 2;
	clear_uas(t, a2);
	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, 0, KEY_A, 0));
	EXPECT_CONFLICT(prout(t, a2, RESERVE, WE, KEY_A, 0, 0));
	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, KEY_A, 0, 0));

	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, 0, KEY_A, ALL_TG_PT));
	EXPECT_GOOD(prout(t, a2, RESERVE, WE, KEY_A, 0, 0));
	EXPECT_GOOD(write10(t, t->a));
	EXPECT_GOOD(write10(t, a2));
	EXPECT_CONFLICT(write10(t, t->b));
	EXPECT_GOOD(prout(t, t->a, RELEASE, WE, KEY_A, 0, 0));
	EXPECT_GOOD(prout(t, a2, REGISTER, 0, KEY_A, 0, 0));
	assert_int_equal(read_keys(t, t->a).count, 0);
	harness_nexus_free(&t->h, a2);
}

/* --- APTPL (SPC-4 5.13.5) ------------------------------------------------ */

static unsigned count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void recreate_lu(struct ctx *t)
{
	lu_destroy(t->lu);
	t->lu = harness_add_lu(&t->h, 0, "null,size=1M");
	assert_non_null(t->lu);
	clear_uas(t, t->a);
	clear_uas(t, t->b);
	clear_uas(t, t->c);
}

static void test_aptpl(void **state)
{
	struct ctx *t = *state;
	char pr_dir[300];
	struct reservation r;
	struct keys k;
	uint8_t *data;
	uint32_t len, gen;

	snprintf(pr_dir, sizeof(pr_dir), "%s/pr", t->h.dir);
	/* Without APTPL nothing survives. */
	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, 0, KEY_A, 0));
	assert_int_equal(count_files(pr_dir), 0);
	recreate_lu(t);
	assert_int_equal(read_keys(t, t->a).count, 0);

	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, 0, KEY_A, APTPL));
	EXPECT_GOOD(prout(t, t->b, REGISTER, 0, 0, KEY_B, ALL_TG_PT | APTPL));
	EXPECT_GOOD(prout(t, t->a, RESERVE, EA_RO, KEY_A, 0, 0));
	assert_int_equal(count_files(pr_dir), 1);
	gen = read_keys(t, t->a).generation;
	EXPECT_GOOD(prin(t, t->a, REPORT_CAPABILITIES, 8, &data, &len));
	assert_int_equal(data[3] & 0x01, 1);                  /* PTPL_A */
	free(data);

	recreate_lu(t);
	k = read_keys(t, t->c);
	assert_int_equal(k.count, 2);
	assert_int_equal(k.generation, gen);
	assert_true(has_key(&k, KEY_A) && has_key(&k, KEY_B));
	r = read_reservation(t, t->c);
	assert_true(r.reserved);
	assert_int_equal(r.type, EA_RO);
	assert_true(r.key == KEY_A);
	EXPECT_GOOD(write10(t, t->a));
	EXPECT_GOOD(write10(t, t->b));
	EXPECT_CONFLICT(read10(t, t->c));
	EXPECT_GOOD(prin(t, t->a, REPORT_CAPABILITIES, 8, &data, &len));
	assert_int_equal(data[3] & 0x01, 1);
	free(data);
	/* The ALL_TG_PT registration came back as such. */
	EXPECT_GOOD(prin(t, t->c, READ_FULL_STATUS, 4096, &data, &len));
	for (uint32_t off = 8; off < len; off += 24 + get_be32(data + off + 20))
		if (get_be64(data + off) == KEY_B)
			assert_int_equal(data[off + 12], 0x02);
	free(data);

	/* Changes after the restore are saved too. */
	EXPECT_GOOD(prout(t, t->a, RELEASE, EA_RO, KEY_A, 0, 0));
	recreate_lu(t);
	assert_false(read_reservation(t, t->c).reserved);
	assert_int_equal(read_keys(t, t->c).count, 2);

	/* APTPL = 0 in a registering action turns it off: file gone. */
	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, KEY_A, KEY_C, 0));
	assert_int_equal(count_files(pr_dir), 0);
	recreate_lu(t);
	assert_int_equal(read_keys(t, t->c).count, 0);
}

/* A damaged state file is ignored, never half-loaded. */
static void test_aptpl_bad_file(void **state)
{
	struct ctx *t = *state;
	char pr_dir[300], path[600];
	struct dirent *e;
	DIR *d;
	FILE *f;

	snprintf(pr_dir, sizeof(pr_dir), "%s/pr", t->h.dir);
	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, 0, KEY_A, APTPL));
	d = opendir(pr_dir);
	assert_non_null(d);
	while ((e = readdir(d)) && e->d_name[0] == '.')
		;
	assert_non_null(e);
	snprintf(path, sizeof(path), "%s/%s", pr_dir, e->d_name);
	closedir(d);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"format\":\"sangw-pr\",\"target\":\"iqn.2026-11.org.sangw:harness\","
	      "\"registrations\":[{\"key\":\"0x1\",\"initiator_port\":\"x,i,0x1\","
	      "\"rel_tgt_port_id\":1,\"all_tg_pt\":false},{\"key\":\"zz\"}]}", f);
	fclose(f);
	lu_destroy(t->lu);
	t->lu = harness_add_lu(&t->h, 0, "null,size=1M");
	assert_non_null(t->lu);
	clear_uas(t, t->a);
	assert_int_equal(read_keys(t, t->a).count, 0);
}

/* --- SPC-2 RESERVE / RELEASE (SPC-2 5.5.1, 7.19, 7.21) ------------------ */

static void test_spc2_reserve_release(void **state)
{
	struct ctx *t = *state;
	static const uint8_t reserve10_3rdpty[10] = { 0x56, 0x10 };

	EXPECT_GOOD(reserve6(t, t->a));
	EXPECT_GOOD(reserve6(t, t->a));                 /* again: GOOD */
	EXPECT_CONFLICT(reserve6(t, t->b));
	EXPECT_GOOD(release6(t, t->b));                 /* not the holder: no effect */
	EXPECT_CONFLICT(reserve6(t, t->b));
	/* libiscsi Reserve6.2Initiators: MODE SENSE conflicts for others. */
	EXPECT_GOOD(mode_sense6(t, t->a));
	EXPECT_CONFLICT(mode_sense6(t, t->b));
	EXPECT_CONFLICT(read10(t, t->b));
	EXPECT_CONFLICT(write10(t, t->b));
	EXPECT_CONFLICT(tur(t, t->b));
	EXPECT_GOOD(inquiry(t, t->b));
	EXPECT_GOOD(read10(t, t->a));
	EXPECT_GOOD(write10(t, t->a));
	/* Every PERSISTENT RESERVE IN/OUT conflicts, the holder's too. */
	EXPECT_CONFLICT(prin(t, t->a, READ_KEYS, 4096, NULL, NULL));
	EXPECT_CONFLICT(prout(t, t->b, REGISTER, 0, 0, KEY_B, 0));
	EXPECT_CONFLICT(prout(t, t->a, REGISTER, 0, 0, KEY_A, 0));

	EXPECT_GOOD(release6(t, t->a));
	EXPECT_GOOD(reserve6(t, t->b));
	EXPECT_CONFLICT(read10(t, t->a));
	EXPECT_GOOD(release6(t, t->b));
	EXPECT_GOOD(read10(t, t->a));

	/* Third-party reservations are not supported. */
	EXPECT_ILLEGAL(run(t, t->a, reserve10_3rdpty, sizeof(reserve10_3rdpty), SCSI_DIR_NONE, NULL, 0),
		       ASC_INVALID_FIELD_IN_CDB);

	/* With a registration, RESERVE and RELEASE conflict (CRH = 0). */
	EXPECT_GOOD(prout(t, t->c, REGISTER, 0, 0, KEY_C, 0));
	EXPECT_CONFLICT(reserve6(t, t->a));
	EXPECT_CONFLICT(release6(t, t->a));
	EXPECT_GOOD(prout(t, t->c, REGISTER, 0, KEY_C, 0, 0));
	EXPECT_GOOD(reserve6(t, t->a));
	EXPECT_GOOD(release6(t, t->a));
}

/* libiscsi Reserve6.ITNexusLoss / Logout: the reservation ends with the
 * I_T nexus. */
static void test_spc2_nexus_loss(void **state)
{
	struct ctx *t = *state;

	EXPECT_GOOD(reserve6(t, t->a));
	EXPECT_CONFLICT(reserve6(t, t->b));
	harness_nexus_free(&t->h, t->a);
	t->a = NULL;
	EXPECT_GOOD(reserve6(t, t->b));
	/* A new session of the same initiator port is a new I_T nexus. */
	t->a = harness_nexus(&t->h, NAME_A, 1);
	clear_uas(t, t->a);
	EXPECT_CONFLICT(read10(t, t->a));
	EXPECT_GOOD(release6(t, t->b));
}

/* libiscsi Reserve6.LUNReset: a logical unit reset ends it; persistent
 * reservations stay. */
static void test_spc2_lu_reset(void **state)
{
	struct ctx *t = *state;

	EXPECT_GOOD(reserve6(t, t->a));
	pr_lu_reset(t->lu);
	harness_drain(&t->h);
	EXPECT_GOOD(reserve6(t, t->b));
	EXPECT_GOOD(release6(t, t->b));

	EXPECT_GOOD(prout(t, t->a, REGISTER, 0, 0, KEY_A, 0));
	EXPECT_GOOD(prout(t, t->a, RESERVE, EA, KEY_A, 0, 0));
	pr_lu_reset(t->lu);
	harness_drain(&t->h);
	clear_uas(t, t->a);
	clear_uas(t, t->b);
	assert_true(read_reservation(t, t->b).reserved);
	EXPECT_CONFLICT(read10(t, t->b));
}

/* --- the apply function against hostile payloads ------------------------ */

static void test_apply_bad_payloads(void **state)
{
	struct ctx *t = *state;
	uint8_t junk[4096];
	struct sop_lu_ref ref;
	uint8_t spc2[sizeof(struct sop_lu_ref) + 8];

	memset(junk, 0xff, sizeof(junk));
	assert_true(pr_apply(&t->h.gw, SOP_PR_OUT, junk, 0) < 0);
	assert_true(pr_apply(&t->h.gw, SOP_PR_OUT, junk, 100) < 0);
	assert_true(pr_apply(&t->h.gw, SOP_PR_OUT, junk, sizeof(junk)) < 0);
	assert_true(pr_apply(&t->h.gw, SOP_SPC2_RESERVE, junk, 3) < 0);
	assert_true(pr_apply(&t->h.gw, SOP_NEXUS_LOSS, junk, 3) < 0);
	assert_true(pr_apply(&t->h.gw, SOP_LU_RESET, junk, 3) < 0);
	assert_true(pr_apply(&t->h.gw, 999, junk, 16) < 0);
	/* An LU this node does not have: LOGICAL UNIT NOT SUPPORTED. */
	memset(&ref, 0, sizeof(ref));
	snprintf(ref.target_iqn, sizeof(ref.target_iqn), "iqn.2026-01.org.sangw.test:none");
	memset(spc2, 0, sizeof(spc2));
	memcpy(spc2, &ref, sizeof(ref));
	{
		int r = pr_apply(&t->h.gw, SOP_SPC2_RESERVE, spc2, sizeof(spc2));

		assert_int_equal(shared_result_status(r), SAM_STAT_CHECK_CONDITION);
		assert_int_equal(shared_result_key(r), SK_ILLEGAL_REQUEST);
		assert_int_equal(shared_result_asc(r), ASC_LU_NOT_SUPPORTED);
	}
	/* Unterminated names do not run off the end. */
	memset(&ref, 'x', sizeof(ref));
	memcpy(spc2, &ref, sizeof(ref));
	assert_int_equal(shared_result_asc(pr_apply(&t->h.gw, SOP_SPC2_RESERVE, spc2, sizeof(spc2))),
			 ASC_LU_NOT_SUPPORTED);
	/* The nexus loss of an unknown nexus is harmless. */
	{
		uint64_t id = 12345;

		assert_int_equal(pr_apply(&t->h.gw, SOP_NEXUS_LOSS, &id, sizeof(id)), 0);
	}
}

/* The opcode table: what dispatch and REPORT SUPPORTED OPERATION CODES see. */
static void test_opcode_table(void **state)
{
	unsigned prin = 0, prout_count = 0, spc2 = 0;

	(void)state;
	for (size_t i = 0; i < pr_opcode_table.count; i++) {
		const struct scsi_opcode_desc *d = &pr_opcode_table.ops[i];

		assert_non_null(d->execute);
		assert_int_equal(d->cdb_usage[0], d->opcode);
		if (d->opcode == 0x5e) {
			prin++;
			assert_int_equal(d->pr_access, PR_ACCESS_ALLOWED);
			assert_true(d->flags & OPF_SA_IN_BYTE1);
		} else if (d->opcode == 0x5f) {
			prout_count++;
			assert_int_equal(d->pr_access, PR_ACCESS_PR_OUT);
		} else {
			spc2++;
			assert_int_equal(d->pr_access, PR_ACCESS_SPC2);
		}
	}
	assert_int_equal(prin, 4);
	assert_int_equal(prout_count, 8);
	assert_int_equal(spc2, 4);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opcode_table),
		T(test_register),
		T(test_registration_survives_nexus_loss),
		T(test_prout_bad_input),
		T(test_prin_basics),
		T(test_read_full_status),
		T(test_read_full_status_fc),
		T(test_type_we),
		T(test_type_ea),
		T(test_type_we_ro),
		T(test_type_ea_ro),
		T(test_type_we_ar),
		T(test_type_ea_ar),
		T(test_unregister_holder),
		T(test_all_registrants_last_leaves),
		T(test_clear),
		T(test_preempt_registration),
		T(test_preempt_reservation),
		T(test_preempt_all_registrants),
		T(test_preempt_and_abort),
		T(test_register_and_move),
		T(test_spec_i_pt),
		T(test_all_tg_pt),
		T(test_aptpl),
		T(test_aptpl_bad_file),
		T(test_spc2_reserve_release),
		T(test_spc2_nexus_loss),
		T(test_spc2_lu_reset),
		T(test_apply_bad_payloads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
