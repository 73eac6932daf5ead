/* The login state machine driven through login_process() with requests
 * built here: complete logins (no authentication, CHAP one-way and
 * mutual, discovery), failures with their RFC 7143 status codes, stage
 * rules, and text continued in both directions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../fabric/iscsi/chap.h"
#include "../../fabric/iscsi/login_backoff.h"
#include "../../gateway/util.h"
#include "../../fabric/iscsi/iscsi_proto.h"
#include "../../fabric/iscsi/login.h"
#include "../../fabric/iscsi/text_keys.h"

#define TARGET_IQN "iqn.2024-01.com.example:disk1"
#define INITIATOR_IQN "iqn.1994-05.com.redhat:client1"
#define TSIH_NEW 0x1234
#define QUEUE_DEPTH 64
#define FIRST_CMDSN 1000

#define T_BIT ISCSI_LOGIN_TRANSIT
#define C_BIT ISCSI_LOGIN_CONTINUE
#define STAGES(csg, nsg) (uint8_t)(((csg) << 2) | (nsg))

struct harness {
	struct login_state *ls;
	struct target target;
	/* what lookup answers */
	bool auth_required;
	bool discovery_auth;
	struct chap_cred chap, mutual;
	uint32_t chap_algorithms;     /* the target's chap_algorithms (0: all) */
	const char *chap_offer;       /* the initiator's CHAP_A list (NULL: "7,5") */
	uint16_t complete_status;
	/* what the callbacks saw */
	unsigned lookups, completes;
	bool lookup_got_null_target;
	char lookup_initiator[ISCSI_NAME_MAX];
	uint8_t next_random;
	/* request building */
	uint8_t isid[6];
	uint16_t cid;
	uint32_t cmdsn, itt, stat_sn;
	uint8_t version_min;
	/* the last response */
	struct login_response rsp;
	enum login_result result;
	struct text_kv_list keys;
	bool answer_continued;        /* the previous response had C=1 */
};

static uint16_t cb_lookup(void *arg, const char *target_name, const char *initiator_name,
			  struct login_target_info *info)
{
	struct harness *h = arg;

	h->lookups++;
	h->lookup_got_null_target = target_name == NULL;
	snprintf(h->lookup_initiator, sizeof(h->lookup_initiator), "%s", initiator_name);
	memset(info, 0, sizeof(*info));
	info->params = (struct target_params){
		.max_recv_data_segment_length = 65536, .max_burst_length = 262144,
		.first_burst_length = 65536, .initial_r2t = true, .immediate_data = true,
		.max_outstanding_r2t = 1, .default_time2wait = 2, .default_time2retain = 20,
		.queue_depth = QUEUE_DEPTH, .chap_algorithms = h->chap_algorithms,
	};
	info->chap = h->chap;
	info->mutual_chap = h->mutual;
	if (!target_name) {
		info->auth_required = h->discovery_auth;
		return 0;
	}
	if (strcmp(target_name, "iqn.2024-01.com.example:forbidden") == 0)
		return ISCSI_LOGIN_STATUS_FORBIDDEN;
	if (strcmp(target_name, TARGET_IQN) != 0)
		return ISCSI_LOGIN_STATUS_NOT_FOUND;
	info->target = &h->target;
	info->auth_required = h->auth_required;
	return 0;
}

static uint16_t cb_complete(void *arg, struct login_state *ls, uint16_t *tsih)
{
	struct harness *h = arg;

	(void)ls;
	h->completes++;
	if (h->complete_status)
		return h->complete_status;
	*tsih = TSIH_NEW;
	return 0;
}

static void cb_random(void *arg, uint8_t *buf, unsigned len)
{
	struct harness *h = arg;

	for (unsigned i = 0; i < len; i++)
		buf[i] = h->next_random++;
}

static int setup(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));
	struct login_callbacks cb = {
		.lookup = cb_lookup, .complete = cb_complete, .random = cb_random,
	};

	if (!h)
		return -1;
	cb.arg = h;
	h->ls = login_state_create(&cb);
	snprintf(h->target.iqn, sizeof(h->target.iqn), "%s", TARGET_IQN);
	h->target.tpgt = 1;
	memcpy(h->isid, "\x80\x12\x34\x56\x00\x01", 6);
	h->cid = 7;
	h->cmdsn = FIRST_CMDSN;
	h->itt = 0x100;
	h->stat_sn = 5000;
	h->next_random = 0x30;
	text_kv_init(&h->keys);
	*state = h;
	return h->ls ? 0 : -1;
}

static int teardown(void **state)
{
	struct harness *h = *state;

	login_state_destroy(h->ls);
	text_kv_free(&h->keys);
	free(h);
	return 0;
}

static struct chap_cred make_cred(const char *user, const char *secret)
{
	struct chap_cred c = { .set = true };

	snprintf(c.user, sizeof(c.user), "%s", user);
	snprintf(c.secret, sizeof(c.secret), "%s", secret);
	return c;
}

static void build_bhs(struct harness *h, uint8_t *bhs, uint8_t flags, uint32_t data_len)
{
	memset(bhs, 0, ISCSI_BHS_LEN);
	bhs[0] = ISCSI_OP_LOGIN_REQ | ISCSI_FLAG_IMMEDIATE;
	bhs[1] = flags;
	bhs[2] = 0;                       /* Version-max */
	bhs[3] = h->version_min;
	bhs_set_data_len(bhs, data_len);
	memcpy(bhs + 8, h->isid, 6);
	put_be32(bhs + 16, h->itt);
	put_be16(bhs + 20, h->cid);
	put_be32(bhs + 24, h->cmdsn);
	put_be32(bhs + 28, h->stat_sn);
}

/* Feed raw text; parse the response's keys into h->keys. */
static enum login_result send_raw(struct harness *h, uint8_t flags, const uint8_t *text,
				  uint32_t len)
{
	uint8_t bhs[ISCSI_BHS_LEN];

	build_bhs(h, bhs, flags, len);
	h->result = login_process(h->ls, bhs, text, len, h->stat_sn, &h->rsp);
	text_kv_free(&h->keys);
	text_kv_init(&h->keys);
	if (h->result != LOGIN_RESULT_DROP) {
		/* every response is a well-formed Login Response */
		assert_int_equal(h->rsp.bhs[0], ISCSI_OP_LOGIN_RSP);
		assert_int_equal(bhs_data_len(h->rsp.bhs), h->rsp.data_len);
		assert_int_equal(bhs_itt(h->rsp.bhs), h->itt);
		assert_memory_equal(h->rsp.bhs + 8, h->isid, 6);
		assert_int_equal(get_be32(h->rsp.bhs + 24), h->stat_sn);
		assert_int_equal(h->rsp.bhs[2], 0);      /* Version-max */
		assert_int_equal(h->rsp.bhs[3], 0);      /* Version-active */
		/* the pieces of a continued answer may split a pair: the
		 * test reassembles those itself */
		bool piece = (h->rsp.bhs[1] & C_BIT) || h->answer_continued;
		if (!piece)
			assert_int_equal(text_kv_parse(&h->keys, h->rsp.data, h->rsp.data_len), 0);
		h->answer_continued = h->rsp.bhs[1] & C_BIT;
		h->stat_sn++;
	}
	h->itt++;
	return h->result;
}

/* Send "key=value" strings (NULL-terminated list) as one request. */
static enum login_result send_keys(struct harness *h, uint8_t flags, ...)
{
	uint8_t text[16384];
	uint32_t len = 0;
	const char *kv;
	va_list ap;

	va_start(ap, flags);
	while ((kv = va_arg(ap, const char *)) != NULL) {
		size_t n = strlen(kv) + 1;
		assert_true(len + n <= sizeof(text));
		memcpy(text + len, kv, n);
		len += (uint32_t)n;
	}
	va_end(ap);
	return send_raw(h, flags, text, len);
}

static uint16_t rsp_status(const struct harness *h)
{
	return get_be16(h->rsp.bhs + 36);
}

static void expect_stages(const struct harness *h, bool transit, uint8_t csg, uint8_t nsg)
{
	uint8_t flags = h->rsp.bhs[1];

	assert_int_equal(rsp_status(h), 0);
	assert_int_equal(!!(flags & T_BIT), transit);
	assert_int_equal(!!(flags & C_BIT), 0);
	assert_int_equal(ISCSI_LOGIN_CSG(flags), csg);
	if (transit)
		assert_int_equal(ISCSI_LOGIN_NSG(flags), nsg);
}

static void expect_failure(struct harness *h, uint16_t status)
{
	assert_int_equal(h->result, LOGIN_RESULT_FAILED);
	assert_int_equal(rsp_status(h), status);
	assert_int_equal(h->rsp.data_len, 0);
	/* nothing more is accepted on this connection */
	assert_int_equal(send_keys(h, 0, NULL), LOGIN_RESULT_DROP);
}

static const char *key(const struct harness *h, const char *name)
{
	return text_kv_get(&h->keys, name);
}

/* The usual two-request login without authentication. */
static void test_no_auth_login(void **state)
{
	struct harness *h = *state;
	const struct iscsi_session_params *p;

	send_keys(h, T_BIT | STAGES(0, 1), "InitiatorName=" INITIATOR_IQN,
		  "InitiatorAlias=client1", "TargetName=" TARGET_IQN, "SessionType=Normal",
		  "AuthMethod=None", NULL);
	assert_int_equal(h->result, LOGIN_RESULT_CONTINUE);
	expect_stages(h, true, 0, 1);
	assert_string_equal(key(h, "AuthMethod"), "None");
	assert_string_equal(key(h, "TargetPortalGroupTag"), "1");
	assert_int_equal(get_be16(h->rsp.bhs + 14), 0);                 /* no TSIH yet */
	assert_int_equal(get_be32(h->rsp.bhs + 28), FIRST_CMDSN);       /* ExpCmdSN */
	assert_int_equal(get_be32(h->rsp.bhs + 32), FIRST_CMDSN + QUEUE_DEPTH - 1);
	assert_int_equal(h->lookups, 1);
	assert_false(h->lookup_got_null_target);
	assert_string_equal(h->lookup_initiator, INITIATOR_IQN);

	send_keys(h, T_BIT | STAGES(1, 3), "HeaderDigest=None", "DataDigest=None",
		  "MaxRecvDataSegmentLength=262144", "InitialR2T=No", "ImmediateData=Yes",
		  "MaxBurstLength=16776192", "FirstBurstLength=262144", "ErrorRecoveryLevel=0",
		  "IFMarker=No", "X-com.example.Foo=1", "iSCSIProtocolLevel=2", NULL);
	assert_int_equal(h->result, LOGIN_RESULT_COMPLETE);
	expect_stages(h, true, 1, 3);
	assert_int_equal(get_be16(h->rsp.bhs + 14), TSIH_NEW);
	assert_int_equal(h->completes, 1);
	assert_string_equal(key(h, "HeaderDigest"), "None");
	assert_string_equal(key(h, "InitialR2T"), "Yes");      /* our Yes wins (OR) */
	assert_string_equal(key(h, "MaxBurstLength"), "262144");
	assert_string_equal(key(h, "FirstBurstLength"), "65536");
	assert_string_equal(key(h, "IFMarker"), "Reject");
	assert_string_equal(key(h, "X-com.example.Foo"), "NotUnderstood");
	assert_string_equal(key(h, "iSCSIProtocolLevel"), "1");
	assert_string_equal(key(h, "MaxRecvDataSegmentLength"), "65536");
	assert_int_equal(text_kv_count_key(&h->keys, "MaxRecvDataSegmentLength"), 1);

	p = login_params(h->ls);
	assert_int_equal(p->initiator_max_recv_dsl, 262144);
	assert_int_equal(p->target_max_recv_dsl, 65536);
	assert_true(p->initial_r2t);
	assert_true(p->immediate_data);
	assert_int_equal(p->max_burst_length, 262144);
	assert_int_equal(login_session_type(h->ls), SESSION_NORMAL);
	assert_string_equal(login_initiator_name(h->ls), INITIATOR_IQN);
	assert_string_equal(login_initiator_alias(h->ls), "client1");
	assert_ptr_equal(login_target(h->ls)->target, &h->target);
	assert_memory_equal(login_isid(h->ls), h->isid, 6);
	assert_int_equal(login_tsih(h->ls), 0);
	assert_int_equal(login_cid(h->ls), 7);
	assert_int_equal(login_initial_cmdsn(h->ls), FIRST_CMDSN);

	/* after full feature phase, a further login request is dropped */
	assert_int_equal(send_keys(h, T_BIT | STAGES(1, 3), NULL), LOGIN_RESULT_DROP);
	assert_int_equal(h->completes, 1);
}

/* Straight from the security stage to full feature phase: our
 * MaxRecvDataSegmentLength is still declared. */
static void test_security_to_full_feature(void **state)
{
	struct harness *h = *state;

	send_keys(h, T_BIT | STAGES(0, 3), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=" TARGET_IQN, "AuthMethod=None", NULL);
	assert_int_equal(h->result, LOGIN_RESULT_COMPLETE);
	expect_stages(h, true, 0, 3);
	assert_string_equal(key(h, "MaxRecvDataSegmentLength"), "65536");
	assert_int_equal(login_params(h->ls)->target_max_recv_dsl, 65536);
}

/* 6.3: starting in the operational stage is fine when no auth is needed. */
static void test_skip_security(void **state)
{
	struct harness *h = *state;

	send_keys(h, T_BIT | STAGES(1, 3), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=" TARGET_IQN, "MaxRecvDataSegmentLength=8192", NULL);
	assert_int_equal(h->result, LOGIN_RESULT_COMPLETE);
	expect_stages(h, true, 1, 3);
	assert_string_equal(key(h, "TargetPortalGroupTag"), "1");
	assert_string_equal(key(h, "MaxRecvDataSegmentLength"), "65536");
	assert_int_equal(login_params(h->ls)->initiator_max_recv_dsl, 8192);
}

static void test_skip_security_when_auth_required(void **state)
{
	struct harness *h = *state;

	h->auth_required = true;
	h->chap = make_cred("client1", "initiatorsecret");
	send_keys(h, T_BIT | STAGES(1, 3), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=" TARGET_IQN, NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_AUTH_FAILED);
	assert_int_equal(h->completes, 0);
}

/* Operational keys in the first security-stage request (as libiscsi sends
 * HeaderDigest) are negotiated. */
static void test_operational_keys_in_security_stage(void **state)
{
	struct harness *h = *state;

	send_keys(h, T_BIT | STAGES(0, 1), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=" TARGET_IQN, "AuthMethod=None", "HeaderDigest=None,CRC32C", NULL);
	expect_stages(h, true, 0, 1);
	assert_string_equal(key(h, "HeaderDigest"), "None");
	assert_string_equal(key(h, "MaxRecvDataSegmentLength"), "65536");
	send_keys(h, T_BIT | STAGES(1, 3), "DataDigest=None", NULL);
	assert_int_equal(h->result, LOGIN_RESULT_COMPLETE);
	/* declared once per login */
	assert_null(key(h, "MaxRecvDataSegmentLength"));
}

/* Run the CHAP exchange as an initiator would; mutual adds CHAP_I/C. */
static void chap_login(struct harness *h, const char *user, const char *secret, bool mutual,
		       bool reflect)
{
	uint8_t challenge[CHAP_BINARY_MAX], digest[CHAP_DIGEST_MAX], id, ich[16];
	char r_hex[2 * CHAP_DIGEST_MAX + 3], n_kv[300], r_kv[80], c_kv[80], a_kv[64];
	unsigned alg;
	size_t dlen;
	int clen;

	send_keys(h, T_BIT | STAGES(0, 1), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=" TARGET_IQN, "SessionType=Normal", "AuthMethod=CHAP,None", NULL);
	assert_int_equal(h->result, LOGIN_RESULT_CONTINUE);
	expect_stages(h, false, 0, 0);     /* not authenticated yet: T=0 */
	assert_string_equal(key(h, "AuthMethod"), "CHAP");

	snprintf(a_kv, sizeof(a_kv), "CHAP_A=%s", h->chap_offer ? h->chap_offer : "7,5");
	send_keys(h, STAGES(0, 1), a_kv, NULL);
	expect_stages(h, false, 0, 0);
	assert_non_null(key(h, "CHAP_A"));
	alg = (unsigned)atoi(key(h, "CHAP_A"));
	assert_non_null(key(h, "CHAP_I"));
	id = (uint8_t)atoi(key(h, "CHAP_I"));
	clen = iscsi_binary_decode(key(h, "CHAP_C"), challenge, sizeof(challenge));
	assert_true(clen >= 16);

	/* RFC 1994: H(identifier || secret || challenge) */
	dlen = chap_response(alg, id, secret, challenge, (size_t)clen, digest);
	assert_int_not_equal(dlen, 0);
	iscsi_binary_encode_hex(digest, dlen, r_hex);
	snprintf(n_kv, sizeof(n_kv), "CHAP_N=%s", user);
	snprintf(r_kv, sizeof(r_kv), "CHAP_R=%s", r_hex);
	if (!mutual) {
		send_keys(h, T_BIT | STAGES(0, 1), n_kv, r_kv, NULL);
		return;
	}
	for (int i = 0; i < 16; i++)
		ich[i] = (uint8_t)(0xa0 + i);
	memcpy(c_kv, "CHAP_C=", 7);
	if (reflect)
		iscsi_binary_encode_hex(challenge, (size_t)clen, c_kv + 7);
	else
		iscsi_binary_encode_hex(ich, 16, c_kv + 7);
	send_keys(h, T_BIT | STAGES(0, 1), n_kv, r_kv, "CHAP_I=9", c_kv, NULL);
}

static void finish_operational(struct harness *h)
{
	send_keys(h, T_BIT | STAGES(1, 3), "HeaderDigest=None", NULL);
	assert_int_equal(h->result, LOGIN_RESULT_COMPLETE);
	expect_stages(h, true, 1, 3);
	assert_int_equal(get_be16(h->rsp.bhs + 14), TSIH_NEW);
}

static void test_chap_one_way(void **state)
{
	struct harness *h = *state;

	h->auth_required = true;
	h->chap = make_cred("client1", "initiatorsecret");
	chap_login(h, "client1", "initiatorsecret", false, false);
	assert_int_equal(h->result, LOGIN_RESULT_CONTINUE);
	expect_stages(h, true, 0, 1);
	assert_null(key(h, "CHAP_R"));
	finish_operational(h);
}

static void test_chap_mutual(void **state)
{
	struct harness *h = *state;
	uint8_t ich[16], got[CHAP_DIGEST_MAX], want[CHAP_DIGEST_MAX];

	h->auth_required = true;
	h->chap = make_cred("client1", "initiatorsecret");
	h->mutual = make_cred("target-user", "targetsecret12");
	chap_login(h, "client1", "initiatorsecret", true, false);
	expect_stages(h, true, 0, 1);
	assert_string_equal(key(h, "CHAP_N"), "target-user");
	/* answered with the algorithm CHAP_A agreed on: SHA-256 of "7,5" */
	assert_int_equal(iscsi_binary_decode(key(h, "CHAP_R"), got, sizeof(got)), 32);
	for (int i = 0; i < 16; i++)
		ich[i] = (uint8_t)(0xa0 + i);
	chap_response(CHAP_ALG_SHA256, 9, "targetsecret12", ich, 16, want);
	assert_memory_equal(got, want, 32);
	finish_operational(h);
}

/* The target's chap_algorithms decide among what the initiator offers. */
static void test_chap_algorithms_restricted(void **state)
{
	struct harness *h = *state;

	h->auth_required = true;
	h->chap = make_cred("client1", "initiatorsecret");
	h->chap_algorithms = CHAP_ALG_BIT(CHAP_ALG_MD5) | CHAP_ALG_BIT(CHAP_ALG_SHA1);
	h->chap_offer = "8,7,6,5";
	chap_login(h, "client1", "initiatorsecret", false, false);
	assert_int_equal(h->result, LOGIN_RESULT_CONTINUE);
	expect_stages(h, true, 0, 1);
	finish_operational(h);
}

static void test_chap_sha3_mutual(void **state)
{
	struct harness *h = *state;
	uint8_t ich[16], got[CHAP_DIGEST_MAX], want[CHAP_DIGEST_MAX];

	h->auth_required = true;
	h->chap = make_cred("client1", "initiatorsecret");
	h->mutual = make_cred("target-user", "targetsecret12");
	h->chap_offer = "5,6,7,8";
	chap_login(h, "client1", "initiatorsecret", true, false);
	expect_stages(h, true, 0, 1);
	assert_int_equal(iscsi_binary_decode(key(h, "CHAP_R"), got, sizeof(got)), 32);
	for (int i = 0; i < 16; i++)
		ich[i] = (uint8_t)(0xa0 + i);
	chap_response(CHAP_ALG_SHA3_256, 9, "targetsecret12", ich, 16, want);
	assert_memory_equal(got, want, 32);
	finish_operational(h);
}

/* The failed-login back-off (login_backoff.h) as login.c applies it: a
 * portal callback turns it on; LOGIN_BACKOFF_THRESHOLD wrong responses
 * lock the initiator out of that portal, so even the right secret is
 * refused before any challenge; a success clears it. */
#define UNIT_PORTAL "unit-test-portal:3260"

static void cb_portal(void *arg, char *buf, size_t len)
{
	(void)arg;
	snprintf(buf, len, "%s", UNIT_PORTAL);
}

static void fresh_login(struct harness *h, bool with_portal)
{
	struct login_callbacks cb = {
		.lookup = cb_lookup, .complete = cb_complete, .random = cb_random,
		.portal = with_portal ? cb_portal : NULL, .arg = h,
	};

	login_state_destroy(h->ls);
	h->ls = login_state_create(&cb);
	assert_non_null(h->ls);
	h->answer_continued = false;
}

static void test_chap_backoff(void **state)
{
	struct harness *h = *state;

	h->auth_required = true;
	h->chap = make_cred("client1", "initiatorsecret");
	for (int i = 0; i < LOGIN_BACKOFF_THRESHOLD; i++) {
		fresh_login(h, true);
		chap_login(h, "client1", "not-the-secret", false, false);
		expect_failure(h, ISCSI_LOGIN_STATUS_AUTH_FAILED);
	}
	assert_true(login_backoff_remaining(login_backoff_table(), INITIATOR_IQN, UNIT_PORTAL, now_ms()) > 0);
	/* locked out: CHAP_A gets no challenge, whatever the secret */
	fresh_login(h, true);
	send_keys(h, T_BIT | STAGES(0, 1), "InitiatorName=" INITIATOR_IQN, "TargetName=" TARGET_IQN,
		  "SessionType=Normal", "AuthMethod=CHAP", NULL);
	assert_int_equal(h->result, LOGIN_RESULT_CONTINUE);
	send_keys(h, STAGES(0, 1), "CHAP_A=7,5", NULL);
	assert_null(key(h, "CHAP_C"));
	expect_failure(h, ISCSI_LOGIN_STATUS_AUTH_FAILED);
	/* without a portal callback there is no back-off (the harness's own) */
	fresh_login(h, false);
	chap_login(h, "client1", "initiatorsecret", false, false);
	expect_stages(h, true, 0, 1);
	/* once the lockout is over a success clears the pair: here the
	 * table is told directly, as a success through login.c would */
	login_backoff_succeeded(login_backoff_table(), INITIATOR_IQN, UNIT_PORTAL);
	fresh_login(h, true);
	chap_login(h, "client1", "initiatorsecret", false, false);
	expect_stages(h, true, 0, 1);
	assert_int_equal(login_backoff_remaining(login_backoff_table(), INITIATOR_IQN, UNIT_PORTAL, now_ms()), 0);
}

/* CHAP offered and configured, though not required: the initiator's
 * preference (CHAP first) wins. */
static void test_chap_optional(void **state)
{
	struct harness *h = *state;

	h->chap = make_cred("client1", "initiatorsecret");
	chap_login(h, "client1", "initiatorsecret", false, false);
	expect_stages(h, true, 0, 1);
	finish_operational(h);
}

static void test_chap_wrong_secret(void **state)
{
	struct harness *h = *state;

	h->auth_required = true;
	h->chap = make_cred("client1", "initiatorsecret");
	chap_login(h, "client1", "not-the-secret", false, false);
	expect_failure(h, ISCSI_LOGIN_STATUS_AUTH_FAILED);
	assert_int_equal(h->completes, 0);
}

static void test_chap_wrong_name(void **state)
{
	struct harness *h = *state;

	h->auth_required = true;
	h->chap = make_cred("client1", "initiatorsecret");
	chap_login(h, "someone-else", "initiatorsecret", false, false);
	expect_failure(h, ISCSI_LOGIN_STATUS_AUTH_FAILED);
}

/* 12.1.3: our own challenge sent back for mutual CHAP is refused. */
static void test_chap_reflection(void **state)
{
	struct harness *h = *state;

	h->auth_required = true;
	h->chap = make_cred("client1", "initiatorsecret");
	h->mutual = make_cred("target-user", "targetsecret12");
	chap_login(h, "client1", "initiatorsecret", true, true);
	expect_failure(h, ISCSI_LOGIN_STATUS_AUTH_FAILED);
}

/* Mutual CHAP asked for, but the target has no secret of its own. */
static void test_chap_mutual_unconfigured(void **state)
{
	struct harness *h = *state;

	h->auth_required = true;
	h->chap = make_cred("client1", "initiatorsecret");
	chap_login(h, "client1", "initiatorsecret", true, false);
	expect_failure(h, ISCSI_LOGIN_STATUS_AUTH_FAILED);
}

static void test_chap_required_none_offered(void **state)
{
	struct harness *h = *state;

	h->auth_required = true;
	h->chap = make_cred("client1", "initiatorsecret");
	send_keys(h, T_BIT | STAGES(0, 1), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=" TARGET_IQN, "AuthMethod=None", NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_AUTH_FAILED);
}

static void test_chap_required_no_authmethod(void **state)
{
	struct harness *h = *state;

	h->auth_required = true;
	h->chap = make_cred("client1", "initiatorsecret");
	send_keys(h, T_BIT | STAGES(0, 1), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=" TARGET_IQN, NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_AUTH_FAILED);
}

/* Without AuthMethod, None is the default (12.1) on an open target. */
static void test_no_authmethod_open_target(void **state)
{
	struct harness *h = *state;

	send_keys(h, T_BIT | STAGES(0, 1), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=" TARGET_IQN, NULL);
	expect_stages(h, true, 0, 1);
	assert_null(key(h, "AuthMethod"));
	finish_operational(h);
}

static void test_chap_unsupported_algorithm(void **state)
{
	struct harness *h = *state;

	h->auth_required = true;
	h->chap = make_cred("client1", "initiatorsecret");
	send_keys(h, STAGES(0, 1), "InitiatorName=" INITIATOR_IQN, "TargetName=" TARGET_IQN,
		  "AuthMethod=CHAP", NULL);
	expect_stages(h, false, 0, 0);
	send_keys(h, STAGES(0, 1), "CHAP_A=4,9,0x77", NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_AUTH_FAILED);
}

/* Offered algorithms the target does not accept: a failed login. */
static void test_chap_algorithm_not_allowed(void **state)
{
	struct harness *h = *state;

	h->auth_required = true;
	h->chap = make_cred("client1", "initiatorsecret");
	h->chap_algorithms = CHAP_ALG_BIT(CHAP_ALG_SHA256) | CHAP_ALG_BIT(CHAP_ALG_SHA3_256);
	send_keys(h, STAGES(0, 1), "InitiatorName=" INITIATOR_IQN, "TargetName=" TARGET_IQN,
		  "AuthMethod=CHAP", NULL);
	expect_stages(h, false, 0, 0);
	send_keys(h, STAGES(0, 1), "CHAP_A=5,6", NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_AUTH_FAILED);
}

/* CHAP agreed, but the initiator asks to move on without answering. */
static void test_chap_abandoned(void **state)
{
	struct harness *h = *state;

	h->auth_required = true;
	h->chap = make_cred("client1", "initiatorsecret");
	send_keys(h, STAGES(0, 1), "InitiatorName=" INITIATOR_IQN, "TargetName=" TARGET_IQN,
		  "AuthMethod=CHAP", NULL);
	send_keys(h, T_BIT | STAGES(0, 1), NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_AUTH_FAILED);
}

/* CHAP keys when None was agreed are a protocol error. */
static void test_chap_keys_without_chap(void **state)
{
	struct harness *h = *state;

	send_keys(h, STAGES(0, 1), "InitiatorName=" INITIATOR_IQN, "TargetName=" TARGET_IQN,
		  "AuthMethod=None", NULL);
	send_keys(h, STAGES(0, 1), "CHAP_A=5", NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_INITIATOR_ERROR);
}

static void test_security_keys_in_operational_stage(void **state)
{
	struct harness *h = *state;

	send_keys(h, STAGES(1, 3), "InitiatorName=" INITIATOR_IQN, "TargetName=" TARGET_IQN,
		  "AuthMethod=None", NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_INITIATOR_ERROR);
}

static void test_missing_initiator_name(void **state)
{
	struct harness *h = *state;

	send_keys(h, T_BIT | STAGES(0, 1), "TargetName=" TARGET_IQN, "AuthMethod=None", NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_MISSING_PARAMETER);
	assert_int_equal(h->lookups, 0);
}

static void test_missing_target_name(void **state)
{
	struct harness *h = *state;

	send_keys(h, T_BIT | STAGES(0, 1), "InitiatorName=" INITIATOR_IQN,
		  "SessionType=Normal", "AuthMethod=None", NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_MISSING_PARAMETER);
}

static void test_target_not_found(void **state)
{
	struct harness *h = *state;

	send_keys(h, T_BIT | STAGES(0, 1), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=iqn.2024-01.com.example:nope", "AuthMethod=None", NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_NOT_FOUND);
}

static void test_target_forbidden(void **state)
{
	struct harness *h = *state;

	send_keys(h, T_BIT | STAGES(0, 1), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=iqn.2024-01.com.example:forbidden", "AuthMethod=None", NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_FORBIDDEN);
}

static void test_bad_session_type(void **state)
{
	struct harness *h = *state;

	send_keys(h, T_BIT | STAGES(0, 1), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=" TARGET_IQN, "SessionType=Sideways", NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_SESSION_TYPE_UNSUPPORTED);
}

static void test_discovery(void **state)
{
	struct harness *h = *state;

	send_keys(h, T_BIT | STAGES(0, 1), "InitiatorName=" INITIATOR_IQN,
		  "SessionType=Discovery", "AuthMethod=None", NULL);
	expect_stages(h, true, 0, 1);
	assert_true(h->lookup_got_null_target);
	assert_null(key(h, "TargetPortalGroupTag"));
	send_keys(h, T_BIT | STAGES(1, 3), "MaxBurstLength=65536", "InitialR2T=No",
		  "HeaderDigest=None", "MaxRecvDataSegmentLength=32768", NULL);
	assert_int_equal(h->result, LOGIN_RESULT_COMPLETE);
	assert_string_equal(key(h, "MaxBurstLength"), "Irrelevant");
	assert_string_equal(key(h, "InitialR2T"), "Irrelevant");
	assert_string_equal(key(h, "HeaderDigest"), "None");
	assert_int_equal(login_session_type(h->ls), SESSION_DISCOVERY);
	assert_int_equal(login_params(h->ls)->initiator_max_recv_dsl, 32768);
	assert_null(login_target(h->ls)->target);
}

static void test_discovery_with_chap(void **state)
{
	struct harness *h = *state;

	h->discovery_auth = true;
	h->chap = make_cred("client1", "initiatorsecret");
	send_keys(h, T_BIT | STAGES(0, 1), "InitiatorName=" INITIATOR_IQN,
		  "SessionType=Discovery", "AuthMethod=None", NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_AUTH_FAILED);
}

/* 11.12: Version-min above 0 is not something we speak. */
static void test_unsupported_version(void **state)
{
	struct harness *h = *state;

	h->version_min = 1;
	send_keys(h, T_BIT | STAGES(0, 1), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=" TARGET_IQN, NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_UNSUPPORTED_VERSION);
}

static void test_not_a_login_request(void **state)
{
	struct harness *h = *state;
	uint8_t bhs[ISCSI_BHS_LEN];

	build_bhs(h, bhs, 0, 0);
	bhs[0] = ISCSI_OP_TEXT_REQ | ISCSI_FLAG_IMMEDIATE;
	h->result = login_process(h->ls, bhs, NULL, 0, h->stat_sn, &h->rsp);
	expect_failure(h, ISCSI_LOGIN_STATUS_INVALID_REQUEST);
	assert_int_equal(h->rsp.bhs[0], ISCSI_OP_LOGIN_RSP);
}

static void first_request(struct harness *h)
{
	send_keys(h, STAGES(0, 1), "InitiatorName=" INITIATOR_IQN, "TargetName=" TARGET_IQN,
		  "AuthMethod=None", NULL);
	expect_stages(h, false, 0, 0);
}

static void test_stage_mismatch(void **state)
{
	struct harness *h = *state;

	first_request(h);
	/* still in the security stage: CSG=1 is out of order */
	send_keys(h, T_BIT | STAGES(1, 3), NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_INVALID_REQUEST);
}

static void test_nsg_backwards(void **state)
{
	struct harness *h = *state;

	send_keys(h, T_BIT | STAGES(0, 1), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=" TARGET_IQN, "AuthMethod=None", NULL);
	expect_stages(h, true, 0, 1);
	send_keys(h, T_BIT | STAGES(1, 0), NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_INVALID_REQUEST);
}

static void test_nsg_reserved(void **state)
{
	struct harness *h = *state;

	send_keys(h, T_BIT | STAGES(0, 2), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=" TARGET_IQN, NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_INVALID_REQUEST);
}

static void test_start_in_full_feature(void **state)
{
	struct harness *h = *state;

	send_keys(h, T_BIT | STAGES(3, 3), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=" TARGET_IQN, NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_INVALID_REQUEST);
}

static void test_transit_and_continue(void **state)
{
	struct harness *h = *state;

	send_keys(h, T_BIT | C_BIT | STAGES(0, 1), "InitiatorName=" INITIATOR_IQN, NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_INVALID_REQUEST);
}

static void test_isid_changed(void **state)
{
	struct harness *h = *state;

	first_request(h);
	h->isid[5] ^= 1;
	send_keys(h, T_BIT | STAGES(0, 1), NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_INVALID_REQUEST);
}

static void test_cid_changed(void **state)
{
	struct harness *h = *state;

	first_request(h);
	h->cid++;
	send_keys(h, T_BIT | STAGES(0, 1), NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_INVALID_REQUEST);
}

/* 6.3: renegotiating a key is an initiator error, in one request or across. */
static void test_duplicate_key_same_request(void **state)
{
	struct harness *h = *state;

	send_keys(h, T_BIT | STAGES(0, 1), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=" TARGET_IQN, "AuthMethod=None", "AuthMethod=None", NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_INITIATOR_ERROR);
}

static void test_duplicate_key_across_requests(void **state)
{
	struct harness *h = *state;

	send_keys(h, T_BIT | STAGES(0, 1), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=" TARGET_IQN, "AuthMethod=None", "HeaderDigest=None", NULL);
	expect_stages(h, true, 0, 1);
	send_keys(h, T_BIT | STAGES(1, 3), "HeaderDigest=CRC32C,None", NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_INITIATOR_ERROR);
	assert_int_equal(h->completes, 0);
}

static void test_target_name_later(void **state)
{
	struct harness *h = *state;

	first_request(h);
	send_keys(h, T_BIT | STAGES(0, 1), "SessionType=Normal", NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_INITIATOR_ERROR);
}

static void test_malformed_text(void **state)
{
	struct harness *h = *state;
	static const uint8_t text[] = "InitiatorName=" INITIATOR_IQN "\0garbage-without-equals";

	send_raw(h, T_BIT | STAGES(0, 1), text, sizeof(text));
	expect_failure(h, ISCSI_LOGIN_STATUS_INITIATOR_ERROR);
}

static void test_complete_refused(void **state)
{
	struct harness *h = *state;

	h->complete_status = ISCSI_LOGIN_STATUS_TOO_MANY_CONNECTIONS;
	send_keys(h, T_BIT | STAGES(0, 3), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=" TARGET_IQN, "AuthMethod=None", NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_TOO_MANY_CONNECTIONS);
	assert_int_equal(h->completes, 1);
}

/* 11.12: the initiator splits its text (here mid-key) over C=1 requests;
 * each gets an empty response, the last one the answers. */
static void test_request_continuation(void **state)
{
	struct harness *h = *state;
	static const char text[] = "InitiatorName=" INITIATOR_IQN "\0TargetName=" TARGET_IQN
				   "\0AuthMethod=None\0DataDigest=None\0";
	const uint8_t *t = (const uint8_t *)text;
	uint32_t len = sizeof(text) - 1;

	send_raw(h, C_BIT | STAGES(0, 1), t, 20);
	assert_int_equal(h->result, LOGIN_RESULT_CONTINUE);
	expect_stages(h, false, 0, 0);
	assert_int_equal(h->rsp.data_len, 0);
	assert_int_equal(h->lookups, 0);
	send_raw(h, C_BIT | STAGES(0, 1), t + 20, 30);
	assert_int_equal(h->rsp.data_len, 0);
	send_raw(h, T_BIT | STAGES(0, 1), t + 50, len - 50);
	expect_stages(h, true, 0, 1);
	assert_int_equal(h->lookups, 1);
	assert_string_equal(key(h, "AuthMethod"), "None");
	assert_string_equal(key(h, "DataDigest"), "None");
	assert_string_equal(key(h, "TargetPortalGroupTag"), "1");
	finish_operational(h);
}

/* A request whose continuation never ends is cut off. */
static void test_request_text_too_long(void **state)
{
	struct harness *h = *state;
	uint8_t chunk[8192];

	memset(chunk, 'A', sizeof(chunk));
	for (int i = 0; i < 7; i++) {
		send_raw(h, C_BIT | STAGES(0, 1), chunk, sizeof(chunk));
		assert_int_equal(h->result, LOGIN_RESULT_CONTINUE);
	}
	send_raw(h, C_BIT | STAGES(0, 1), chunk, sizeof(chunk));
	assert_int_equal(h->result, LOGIN_RESULT_CONTINUE);
	send_raw(h, C_BIT | STAGES(0, 1), chunk, 1);
	expect_failure(h, ISCSI_LOGIN_STATUS_OUT_OF_RESOURCES);
}

/* 11.13: answers longer than 8192 bytes go out in C=1 pieces fetched with
 * empty requests; T=1 and the TSIH come with the last piece. */
static void test_response_continuation(void **state)
{
	struct harness *h = *state;
	enum { NKEYS = 300 };
	uint8_t *text = malloc(NKEYS * 80), *answers = malloc(NKEYS * 100);
	uint32_t len = 0, got = 0;
	unsigned pieces = 0;
	struct text_kv_list all;

	assert_non_null(text);
	assert_non_null(answers);
	send_keys(h, T_BIT | STAGES(0, 1), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=" TARGET_IQN, "AuthMethod=None", NULL);
	expect_stages(h, true, 0, 1);

	for (int i = 0; i < NKEYS; i++)
		len += (uint32_t)sprintf((char *)text + len,
					 "X-com.example.a-rather-long-private-extension-key-%04d=v", i) + 1;
	/* the request itself goes in 8192-byte pieces too */
	for (uint32_t off = 0; off < len; off += 8192) {
		uint32_t n = MIN(8192u, len - off);
		bool last = off + n == len;

		send_raw(h, (last ? T_BIT : C_BIT) | STAGES(1, 3), text + off, n);
		if (!last)
			assert_int_equal(h->rsp.data_len, 0);
	}
	for (;;) {
		assert_true(h->rsp.data_len <= 8192);
		memcpy(answers + got, h->rsp.data, h->rsp.data_len);
		got += h->rsp.data_len;
		pieces++;
		if (!(h->rsp.bhs[1] & C_BIT))
			break;
		assert_false(h->rsp.bhs[1] & T_BIT);      /* C=1 responses have T=0 */
		assert_int_equal(h->result, LOGIN_RESULT_CONTINUE);
		assert_int_equal(h->completes, 0);
		send_raw(h, T_BIT | STAGES(1, 3), NULL, 0);
	}
	assert_true(pieces >= 3);
	assert_int_equal(h->result, LOGIN_RESULT_COMPLETE);
	expect_stages(h, true, 1, 3);
	assert_int_equal(get_be16(h->rsp.bhs + 14), TSIH_NEW);
	assert_int_equal(h->completes, 1);

	text_kv_init(&all);
	assert_int_equal(text_kv_parse(&all, answers, got), 0);
	assert_int_equal(all.count, NKEYS + 1);          /* + our declaration */
	for (unsigned i = 0; i < all.count; i++)
		if (strncmp(all.items[i].key, "X-", 2) == 0)
			assert_string_equal(all.items[i].value, "NotUnderstood");
	text_kv_free(&all);
	free(text);
	free(answers);
}

/* Sending text while the target is still continuing its answer is wrong. */
static void test_text_during_response_continuation(void **state)
{
	struct harness *h = *state;
	uint8_t *text = malloc(300 * 80);
	uint32_t len = 0;

	assert_non_null(text);
	for (int i = 0; i < 300; i++)
		len += (uint32_t)sprintf((char *)text + len,
					 "X-com.example.a-rather-long-private-extension-key-%04d=v", i) + 1;
	send_raw(h, STAGES(1, 3), (const uint8_t *)"InitiatorName=" INITIATOR_IQN "\0TargetName="
		 TARGET_IQN, sizeof("InitiatorName=" INITIATOR_IQN "\0TargetName=" TARGET_IQN));
	expect_stages(h, false, 1, 0);
	send_raw(h, STAGES(1, 3), text, len);
	assert_true(h->rsp.bhs[1] & C_BIT);
	send_keys(h, STAGES(1, 3), "HeaderDigest=None", NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_INVALID_REQUEST);
	free(text);
}

static void test_too_many_requests(void **state)
{
	struct harness *h = *state;

	first_request(h);
	for (int i = 1; i < 64; i++) {
		send_keys(h, STAGES(0, 1), NULL);
		assert_int_equal(h->result, LOGIN_RESULT_CONTINUE);
	}
	send_keys(h, STAGES(0, 1), NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_INITIATOR_ERROR);
}

/* MaxCmdSN follows serial arithmetic across the 2^32 wrap. */
static void test_cmdsn_window_wraps(void **state)
{
	struct harness *h = *state;

	h->cmdsn = 0xfffffff0u;
	send_keys(h, T_BIT | STAGES(0, 1), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=" TARGET_IQN, "AuthMethod=None", NULL);
	assert_int_equal(get_be32(h->rsp.bhs + 28), 0xfffffff0u);
	assert_int_equal(get_be32(h->rsp.bhs + 32), (uint32_t)(0xfffffff0u + QUEUE_DEPTH - 1));
}

/* --- transport keys (login_callbacks negotiate_key/declare) ------------ */

/* What an iSER transport would do (RFC 7145 section 6): own RDMAExtensions,
 * InitiatorRecvDataSegmentLength and the digests (None only), and declare
 * TargetRecvDataSegmentLength instead of MaxRecvDataSegmentLength. */
static int cb_transport_key(void *arg, struct iscsi_session_params *params, const char *k,
			    const char *value, struct text_kv_list *rsp, uint16_t *status)
{
	(void)arg;
	if (strcmp(k, "RDMAExtensions") == 0) {
		if (strcmp(value, "Yes") != 0 && strcmp(value, "No") != 0) {
			*status = ISCSI_LOGIN_STATUS_INITIATOR_ERROR;
			return -1;
		}
		text_kv_add(rsp, k, value);
		return 1;
	}
	if (strcmp(k, "InitiatorRecvDataSegmentLength") == 0) {
		params->initiator_max_recv_dsl = (uint32_t)strtoul(value, NULL, 10);
		return 1;
	}
	if (strcmp(k, "HeaderDigest") == 0 || strcmp(k, "DataDigest") == 0) {
		text_kv_add(rsp, k, "None");
		return 1;
	}
	return 0;
}

static bool cb_transport_declare(void *arg, const struct iscsi_session_params *params,
				 const struct target_params *offer, struct text_kv_list *rsp,
				 uint32_t *recv_dsl)
{
	(void)arg;
	(void)params;
	*recv_dsl = offer->max_recv_data_segment_length * 4;
	text_kv_addf(rsp, "TargetRecvDataSegmentLength", "%u", *recv_dsl);
	return true;
}

static void use_transport_hooks(struct harness *h)
{
	struct login_callbacks cb = {
		.lookup = cb_lookup, .complete = cb_complete, .random = cb_random,
		.negotiate_key = cb_transport_key, .declare = cb_transport_declare, .arg = h,
	};

	login_state_destroy(h->ls);
	h->ls = login_state_create(&cb);
	assert_non_null(h->ls);
}

static void test_transport_keys(void **state)
{
	struct harness *h = *state;
	const struct iscsi_session_params *p;

	use_transport_hooks(h);
	send_keys(h, T_BIT | STAGES(0, 1), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=" TARGET_IQN, "AuthMethod=None", NULL);
	expect_stages(h, true, 0, 1);
	send_keys(h, T_BIT | STAGES(1, 3), "RDMAExtensions=Yes", "HeaderDigest=CRC32C,None",
		  "DataDigest=CRC32C", "InitiatorRecvDataSegmentLength=131072",
		  "MaxBurstLength=16776192", NULL);
	assert_int_equal(h->result, LOGIN_RESULT_COMPLETE);
	expect_stages(h, true, 1, 3);
	assert_string_equal(key(h, "RDMAExtensions"), "Yes");
	assert_string_equal(key(h, "HeaderDigest"), "None");
	assert_string_equal(key(h, "DataDigest"), "None");
	assert_null(key(h, "InitiatorRecvDataSegmentLength"));          /* declarative */
	assert_string_equal(key(h, "MaxBurstLength"), "262144");         /* still params.c's */
	assert_string_equal(key(h, "TargetRecvDataSegmentLength"), "262144");
	assert_null(key(h, "MaxRecvDataSegmentLength"));
	p = login_params(h->ls);
	assert_false(p->header_digest);
	assert_false(p->data_digest);
	assert_int_equal(p->initiator_max_recv_dsl, 131072);
	assert_int_equal(p->target_max_recv_dsl, 262144);
}

static void test_transport_key_refused(void **state)
{
	struct harness *h = *state;

	use_transport_hooks(h);
	send_keys(h, T_BIT | STAGES(1, 3), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=" TARGET_IQN, "RDMAExtensions=Maybe", NULL);
	expect_failure(h, ISCSI_LOGIN_STATUS_INITIATOR_ERROR);
	assert_int_equal(h->completes, 0);
}

/* Without transport hooks (TCP) the RFC 7145 keys are unknown (RFC 7143 6.2). */
static void test_rdma_keys_without_transport(void **state)
{
	struct harness *h = *state;

	send_keys(h, T_BIT | STAGES(1, 3), "InitiatorName=" INITIATOR_IQN,
		  "TargetName=" TARGET_IQN, "RDMAExtensions=Yes", "HeaderDigest=CRC32C,None", NULL);
	assert_int_equal(h->result, LOGIN_RESULT_COMPLETE);
	assert_string_equal(key(h, "RDMAExtensions"), "NotUnderstood");
	assert_string_equal(key(h, "HeaderDigest"), "None");
	assert_string_equal(key(h, "MaxRecvDataSegmentLength"), "65536");
	assert_null(key(h, "TargetRecvDataSegmentLength"));
}

#define LOGIN_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		LOGIN_TEST(test_no_auth_login),
		LOGIN_TEST(test_security_to_full_feature),
		LOGIN_TEST(test_skip_security),
		LOGIN_TEST(test_skip_security_when_auth_required),
		LOGIN_TEST(test_operational_keys_in_security_stage),
		LOGIN_TEST(test_chap_one_way),
		LOGIN_TEST(test_chap_mutual),
		LOGIN_TEST(test_chap_algorithms_restricted),
		LOGIN_TEST(test_chap_sha3_mutual),
		LOGIN_TEST(test_chap_algorithm_not_allowed),
		LOGIN_TEST(test_chap_backoff),
		LOGIN_TEST(test_chap_optional),
		LOGIN_TEST(test_chap_wrong_secret),
		LOGIN_TEST(test_chap_wrong_name),
		LOGIN_TEST(test_chap_reflection),
		LOGIN_TEST(test_chap_mutual_unconfigured),
		LOGIN_TEST(test_chap_required_none_offered),
		LOGIN_TEST(test_chap_required_no_authmethod),
		LOGIN_TEST(test_no_authmethod_open_target),
		LOGIN_TEST(test_chap_unsupported_algorithm),
		LOGIN_TEST(test_chap_abandoned),
		LOGIN_TEST(test_chap_keys_without_chap),
		LOGIN_TEST(test_security_keys_in_operational_stage),
		LOGIN_TEST(test_missing_initiator_name),
		LOGIN_TEST(test_missing_target_name),
		LOGIN_TEST(test_target_not_found),
		LOGIN_TEST(test_target_forbidden),
		LOGIN_TEST(test_bad_session_type),
		LOGIN_TEST(test_discovery),
		LOGIN_TEST(test_discovery_with_chap),
		LOGIN_TEST(test_unsupported_version),
		LOGIN_TEST(test_not_a_login_request),
		LOGIN_TEST(test_stage_mismatch),
		LOGIN_TEST(test_nsg_backwards),
		LOGIN_TEST(test_nsg_reserved),
		LOGIN_TEST(test_start_in_full_feature),
		LOGIN_TEST(test_transit_and_continue),
		LOGIN_TEST(test_isid_changed),
		LOGIN_TEST(test_cid_changed),
		LOGIN_TEST(test_duplicate_key_same_request),
		LOGIN_TEST(test_duplicate_key_across_requests),
		LOGIN_TEST(test_target_name_later),
		LOGIN_TEST(test_malformed_text),
		LOGIN_TEST(test_complete_refused),
		LOGIN_TEST(test_request_continuation),
		LOGIN_TEST(test_request_text_too_long),
		LOGIN_TEST(test_response_continuation),
		LOGIN_TEST(test_text_during_response_continuation),
		LOGIN_TEST(test_too_many_requests),
		LOGIN_TEST(test_cmdsn_window_wraps),
		LOGIN_TEST(test_transport_keys),
		LOGIN_TEST(test_transport_key_refused),
		LOGIN_TEST(test_rdma_keys_without_transport),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
