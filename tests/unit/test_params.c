/* Operational key negotiation: one test per rule of RFC 7143 6.2 and
 * section 13 that params.c implements. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../fabric/iscsi/iscsi_proto.h"
#include "../../fabric/iscsi/params.h"

static struct target_params offer_defaults(void)
{
	return (struct target_params){
		.max_recv_data_segment_length = 262144,
		.max_burst_length = 262144,
		.first_burst_length = 65536,
		.initial_r2t = true,
		.immediate_data = true,
		.max_outstanding_r2t = 1,
		.default_time2wait = 2,
		.default_time2retain = 20,
		.header_digest = true,
		.data_digest = true,
		.queue_depth = 128,
	};
}

/* Negotiate a single "key=value" and return our answer (NULL for none). */
struct run {
	struct iscsi_session_params params;
	struct target_params offer;
	struct text_kv_list rsp;
	char answer[256];
};

static void run_init(struct run *r)
{
	iscsi_params_defaults(&r->params);
	r->offer = offer_defaults();
	text_kv_init(&r->rsp);
}

static const char *negotiate_kv(struct run *r, bool discovery, const char *key, const char *value)
{
	struct text_kv_list req;
	uint16_t status = 0xffff;
	const char *a;

	text_kv_init(&req);
	assert_int_equal(text_kv_add(&req, key, value), 0);
	text_kv_free(&r->rsp);
	text_kv_init(&r->rsp);
	assert_int_equal(iscsi_params_negotiate(&r->params, &r->offer, discovery, &req, &r->rsp,
						&status), 0);
	text_kv_free(&req);
	a = text_kv_get(&r->rsp, key);
	if (!a)
		return NULL;
	assert_int_equal(r->rsp.count, 1);
	snprintf(r->answer, sizeof(r->answer), "%s", a);
	return r->answer;
}

static void run_free(struct run *r)
{
	text_kv_free(&r->rsp);
}

static void test_defaults(void **state)
{
	struct iscsi_session_params p;

	(void)state;
	memset(&p, 0xa5, sizeof(p));
	iscsi_params_defaults(&p);
	assert_false(p.header_digest);
	assert_false(p.data_digest);
	assert_int_equal(p.initiator_max_recv_dsl, 8192);
	assert_int_equal(p.target_max_recv_dsl, 8192);
	assert_int_equal(p.max_burst_length, 262144);
	assert_int_equal(p.first_burst_length, 65536);
	assert_true(p.initial_r2t);
	assert_true(p.immediate_data);
	assert_int_equal(p.max_outstanding_r2t, 1);
	assert_true(p.data_pdu_in_order);
	assert_true(p.data_sequence_in_order);
	assert_int_equal(p.default_time2wait, 2);
	assert_int_equal(p.default_time2retain, 20);
	assert_int_equal(p.error_recovery_level, 0);
	assert_int_equal(p.max_connections, 1);
}

/* 13.1 + 6.2.1: the first value of the initiator's list that we support. */
static void test_digests(void **state)
{
	struct run r;

	(void)state;
	run_init(&r);
	assert_string_equal(negotiate_kv(&r, false, "HeaderDigest", "CRC32C,None"), "CRC32C");
	assert_true(r.params.header_digest);
	assert_string_equal(negotiate_kv(&r, false, "DataDigest", "None,CRC32C"), "None");
	assert_false(r.params.data_digest);
	assert_string_equal(negotiate_kv(&r, false, "DataDigest", "Foo,CRC32C"), "CRC32C");
	assert_true(r.params.data_digest);

	/* CRC32C not offered by the target: None, or Reject if None is absent */
	r.offer.header_digest = false;
	r.params.header_digest = false;
	assert_string_equal(negotiate_kv(&r, false, "HeaderDigest", "CRC32C,None"), "None");
	assert_false(r.params.header_digest);
	assert_string_equal(negotiate_kv(&r, false, "HeaderDigest", "CRC32C"), "Reject");
	assert_false(r.params.header_digest);
	/* garbage lists */
	assert_string_equal(negotiate_kv(&r, false, "HeaderDigest", ""), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "HeaderDigest", "crc32c,none"), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "HeaderDigest", "CRC32CX,NoneX"), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "HeaderDigest", ",,None"), "None");
	run_free(&r);
}

/* 13.12: declarative, recorded, no answer; out of range is refused. */
static void test_max_recv_dsl(void **state)
{
	struct run r;

	(void)state;
	run_init(&r);
	assert_null(negotiate_kv(&r, false, "MaxRecvDataSegmentLength", "65536"));
	assert_int_equal(r.rsp.count, 0);
	assert_int_equal(r.params.initiator_max_recv_dsl, 65536);
	assert_int_equal(r.params.target_max_recv_dsl, 8192);   /* ours is declared apart */
	assert_null(negotiate_kv(&r, false, "MaxRecvDataSegmentLength", "0x200"));
	assert_int_equal(r.params.initiator_max_recv_dsl, 512);
	assert_null(negotiate_kv(&r, false, "MaxRecvDataSegmentLength", "16777215"));
	assert_int_equal(r.params.initiator_max_recv_dsl, 16777215);
	assert_string_equal(negotiate_kv(&r, false, "MaxRecvDataSegmentLength", "511"), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "MaxRecvDataSegmentLength", "16777216"), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "MaxRecvDataSegmentLength", "big"), "Reject");
	assert_int_equal(r.params.initiator_max_recv_dsl, 16777215);
	run_free(&r);
}

/* 13.13 / 13.14: minimum of both sides; FirstBurstLength <= MaxBurstLength. */
static void test_bursts(void **state)
{
	struct run r;

	(void)state;
	run_init(&r);
	assert_string_equal(negotiate_kv(&r, false, "MaxBurstLength", "1048576"), "262144");
	assert_int_equal(r.params.max_burst_length, 262144);
	assert_string_equal(negotiate_kv(&r, false, "FirstBurstLength", "32768"), "32768");
	assert_int_equal(r.params.first_burst_length, 32768);
	assert_string_equal(negotiate_kv(&r, false, "FirstBurstLength", "262144"), "65536");
	assert_string_equal(negotiate_kv(&r, false, "MaxBurstLength", "100"), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "FirstBurstLength", "16777216"), "Reject");
	run_free(&r);

	/* both in one request, FirstBurstLength first: still bounded */
	struct iscsi_session_params p;
	struct target_params offer = offer_defaults();
	struct text_kv_list req, rsp;
	uint16_t status;

	iscsi_params_defaults(&p);
	text_kv_init(&req);
	text_kv_init(&rsp);
	text_kv_add(&req, "FirstBurstLength", "65536");
	text_kv_add(&req, "MaxBurstLength", "16384");
	assert_int_equal(iscsi_params_negotiate(&p, &offer, false, &req, &rsp, &status), 0);
	assert_string_equal(text_kv_get(&rsp, "MaxBurstLength"), "16384");
	assert_string_equal(text_kv_get(&rsp, "FirstBurstLength"), "16384");
	assert_int_equal(p.max_burst_length, 16384);
	assert_int_equal(p.first_burst_length, 16384);
	text_kv_free(&req);
	text_kv_free(&rsp);
}

/* 13.10 InitialR2T is OR, 13.11 ImmediateData is AND. */
static void test_booleans(void **state)
{
	struct run r;

	(void)state;
	run_init(&r);
	r.offer.initial_r2t = false;
	assert_string_equal(negotiate_kv(&r, false, "InitialR2T", "No"), "No");
	assert_false(r.params.initial_r2t);
	assert_string_equal(negotiate_kv(&r, false, "InitialR2T", "Yes"), "Yes");
	assert_true(r.params.initial_r2t);
	r.offer.initial_r2t = true;
	assert_string_equal(negotiate_kv(&r, false, "InitialR2T", "No"), "Yes");

	assert_string_equal(negotiate_kv(&r, false, "ImmediateData", "Yes"), "Yes");
	assert_true(r.params.immediate_data);
	assert_string_equal(negotiate_kv(&r, false, "ImmediateData", "No"), "No");
	assert_false(r.params.immediate_data);
	r.offer.immediate_data = false;
	assert_string_equal(negotiate_kv(&r, false, "ImmediateData", "Yes"), "No");
	assert_false(r.params.immediate_data);

	/* 13.18 / 13.19: we need in-order data; OR with our Yes */
	assert_string_equal(negotiate_kv(&r, false, "DataPDUInOrder", "No"), "Yes");
	assert_true(r.params.data_pdu_in_order);
	assert_string_equal(negotiate_kv(&r, false, "DataSequenceInOrder", "No"), "Yes");
	assert_true(r.params.data_sequence_in_order);

	/* Boolean syntax is exact */
	assert_string_equal(negotiate_kv(&r, false, "InitialR2T", "yes"), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "ImmediateData", "1"), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "DataPDUInOrder", ""), "Reject");
	run_free(&r);
}

static void test_numbers(void **state)
{
	struct run r;

	(void)state;
	run_init(&r);
	r.offer.max_outstanding_r2t = 4;
	assert_string_equal(negotiate_kv(&r, false, "MaxOutstandingR2T", "16"), "4");
	assert_int_equal(r.params.max_outstanding_r2t, 4);
	assert_string_equal(negotiate_kv(&r, false, "MaxOutstandingR2T", "2"), "2");
	assert_string_equal(negotiate_kv(&r, false, "MaxOutstandingR2T", "0"), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "MaxOutstandingR2T", "65536"), "Reject");

	/* 13.15 maximum, 13.16 minimum, both 0..3600 */
	assert_string_equal(negotiate_kv(&r, false, "DefaultTime2Wait", "0"), "2");
	assert_string_equal(negotiate_kv(&r, false, "DefaultTime2Wait", "10"), "10");
	assert_int_equal(r.params.default_time2wait, 10);
	assert_string_equal(negotiate_kv(&r, false, "DefaultTime2Wait", "3601"), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "DefaultTime2Retain", "0"), "0");
	assert_int_equal(r.params.default_time2retain, 0);
	assert_string_equal(negotiate_kv(&r, false, "DefaultTime2Retain", "60"), "20");

	/* 13.20 / 13.2: our 0 and 1 win */
	assert_string_equal(negotiate_kv(&r, false, "ErrorRecoveryLevel", "2"), "0");
	assert_string_equal(negotiate_kv(&r, false, "ErrorRecoveryLevel", "3"), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "MaxConnections", "8"), "1");
	assert_int_equal(r.params.max_connections, 1);
	assert_string_equal(negotiate_kv(&r, false, "MaxConnections", "0"), "Reject");

	/* numerical syntax: decimal or 0x hex, nothing else */
	assert_string_equal(negotiate_kv(&r, false, "MaxOutstandingR2T", "0x3"), "3");
	assert_string_equal(negotiate_kv(&r, false, "MaxOutstandingR2T", "0X3"), "3");
	assert_string_equal(negotiate_kv(&r, false, "MaxOutstandingR2T", "0x"), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "MaxOutstandingR2T", "+3"), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "MaxOutstandingR2T", " 3"), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "MaxOutstandingR2T", "3 "), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "MaxOutstandingR2T", "-1"), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "MaxOutstandingR2T", ""), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "MaxOutstandingR2T", "3g"), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "MaxBurstLength", "99999999999999999999999"),
			    "Reject");
	assert_string_equal(negotiate_kv(&r, false, "MaxBurstLength", "4294967808"), "Reject");
	run_free(&r);
}

static void test_fixed_answers(void **state)
{
	struct run r;

	(void)state;
	run_init(&r);
	/* 13.25: obsolete marker keys */
	assert_string_equal(negotiate_kv(&r, false, "IFMarker", "No"), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "OFMarker", "Yes"), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "OFMarkInt", "2048~8192"), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "IFMarkInt", "2048~8192"), "Reject");
	/* 13.23 */
	assert_string_equal(negotiate_kv(&r, false, "TaskReporting", "ResponseFence,RFC3720"),
			    "RFC3720");
	assert_string_equal(negotiate_kv(&r, false, "TaskReporting", "FastAbort"), "Reject");
	/* 13.24 */
	assert_string_equal(negotiate_kv(&r, false, "iSCSIProtocolLevel", "2"), "1");
	assert_string_equal(negotiate_kv(&r, false, "iSCSIProtocolLevel", "0"), "0");
	assert_string_equal(negotiate_kv(&r, false, "iSCSIProtocolLevel", "32"), "Reject");
	/* keys only the target sends, or only in full feature phase */
	assert_string_equal(negotiate_kv(&r, false, "TargetAlias", "x"), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "TargetPortalGroupTag", "1"), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "TargetAddress", "1.2.3.4"), "Reject");
	assert_string_equal(negotiate_kv(&r, false, "SendTargets", "All"), "Reject");
	run_free(&r);
}

/* 6.2: unknown keys and extension keys get NotUnderstood. */
static void test_not_understood(void **state)
{
	struct run r;

	(void)state;
	run_init(&r);
	assert_string_equal(negotiate_kv(&r, false, "X-com.example.Foo", "1"), "NotUnderstood");
	assert_string_equal(negotiate_kv(&r, false, "X#NodeArchitecture", "a"), "NotUnderstood");
	assert_string_equal(negotiate_kv(&r, false, "FutureKey", "1"), "NotUnderstood");
	/* names are case-sensitive */
	assert_string_equal(negotiate_kv(&r, false, "Headerdigest", "None"), "NotUnderstood");
	run_free(&r);
}

/* Section 13 "Irrelevant when: SessionType=Discovery". */
static void test_discovery(void **state)
{
	static const char *const irrelevant[] = {
		"MaxBurstLength", "FirstBurstLength", "InitialR2T", "ImmediateData",
		"MaxOutstandingR2T", "DataPDUInOrder", "DataSequenceInOrder", "MaxConnections",
	};
	struct run r;

	(void)state;
	run_init(&r);
	for (size_t i = 0; i < sizeof(irrelevant) / sizeof(irrelevant[0]); i++)
		assert_string_equal(negotiate_kv(&r, true, irrelevant[i], "1"), "Irrelevant");
	assert_int_equal(r.params.max_burst_length, 262144);
	/* still negotiated in discovery */
	assert_string_equal(negotiate_kv(&r, true, "HeaderDigest", "CRC32C,None"), "CRC32C");
	assert_string_equal(negotiate_kv(&r, true, "ErrorRecoveryLevel", "1"), "0");
	assert_string_equal(negotiate_kv(&r, true, "DefaultTime2Wait", "5"), "5");
	assert_null(negotiate_kv(&r, true, "MaxRecvDataSegmentLength", "4096"));
	assert_int_equal(r.params.initiator_max_recv_dsl, 4096);
	run_free(&r);
}

/* 6.3: a key sent twice is an initiator error. */
static void test_duplicate_key(void **state)
{
	struct iscsi_session_params p;
	struct target_params offer = offer_defaults();
	struct text_kv_list req, rsp;
	uint16_t status = 0;

	(void)state;
	iscsi_params_defaults(&p);
	text_kv_init(&req);
	text_kv_init(&rsp);
	text_kv_add(&req, "MaxBurstLength", "65536");
	text_kv_add(&req, "ImmediateData", "Yes");
	text_kv_add(&req, "MaxBurstLength", "65536");
	assert_int_equal(iscsi_params_negotiate(&p, &offer, false, &req, &rsp, &status), -1);
	assert_int_equal(status, ISCSI_LOGIN_STATUS_INITIATOR_ERROR);
	text_kv_free(&req);
	text_kv_free(&rsp);
}

/* A full typical offer (what open-iscsi sends) gets one answer per key. */
static void test_typical_offer(void **state)
{
	static const char *const kv[][2] = {
		{ "HeaderDigest", "None" }, { "DataDigest", "None" },
		{ "DefaultTime2Wait", "2" }, { "DefaultTime2Retain", "0" },
		{ "IFMarker", "No" }, { "OFMarker", "No" }, { "ErrorRecoveryLevel", "0" },
		{ "InitialR2T", "No" }, { "ImmediateData", "Yes" },
		{ "MaxBurstLength", "16776192" }, { "FirstBurstLength", "262144" },
		{ "MaxOutstandingR2T", "1" }, { "MaxConnections", "1" },
		{ "DataPDUInOrder", "Yes" }, { "DataSequenceInOrder", "Yes" },
		{ "MaxRecvDataSegmentLength", "262144" },
	};
	struct iscsi_session_params p;
	struct target_params offer = offer_defaults();
	struct text_kv_list req, rsp;
	uint16_t status;

	(void)state;
	offer.initial_r2t = false;
	iscsi_params_defaults(&p);
	text_kv_init(&req);
	text_kv_init(&rsp);
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		text_kv_add(&req, kv[i][0], kv[i][1]);
	assert_int_equal(iscsi_params_negotiate(&p, &offer, false, &req, &rsp, &status), 0);
	assert_int_equal(rsp.count, req.count - 1);     /* all but the declaration */
	assert_false(p.initial_r2t);
	assert_true(p.immediate_data);
	assert_int_equal(p.max_burst_length, 262144);
	assert_int_equal(p.first_burst_length, 65536);
	assert_int_equal(p.default_time2retain, 0);
	assert_int_equal(p.initiator_max_recv_dsl, 262144);
	assert_string_equal(text_kv_get(&rsp, "FirstBurstLength"), "65536");
	text_kv_free(&req);
	text_kv_free(&rsp);
}

static void test_declare(void **state)
{
	struct iscsi_session_params p;
	struct target_params offer = offer_defaults();
	struct text_kv_list rsp;

	(void)state;
	iscsi_params_defaults(&p);
	text_kv_init(&rsp);
	iscsi_params_declare(&p, &offer, &rsp);
	assert_int_equal(rsp.count, 1);
	assert_string_equal(text_kv_get(&rsp, "MaxRecvDataSegmentLength"), "262144");
	text_kv_free(&rsp);

	/* a nonsense configured value is brought into 512..2^24-1 */
	text_kv_init(&rsp);
	offer.max_recv_data_segment_length = 100;
	iscsi_params_declare(&p, &offer, &rsp);
	assert_string_equal(text_kv_get(&rsp, "MaxRecvDataSegmentLength"), "512");
	text_kv_free(&rsp);
	text_kv_init(&rsp);
	offer.max_recv_data_segment_length = 1u << 30;
	iscsi_params_declare(&p, &offer, &rsp);
	assert_string_equal(text_kv_get(&rsp, "MaxRecvDataSegmentLength"), "16777215");
	text_kv_free(&rsp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_digests),
		cmocka_unit_test(test_max_recv_dsl),
		cmocka_unit_test(test_bursts),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_fixed_answers),
		cmocka_unit_test(test_not_understood),
		cmocka_unit_test(test_discovery),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_typical_offer),
		cmocka_unit_test(test_declare),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
