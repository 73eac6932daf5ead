/* FIP codec (fabric/fcoe/fip.c): VN2VN messages built and parsed back,
 * the descriptor rules Linux's libfcoe applies (required, unique, exact
 * lengths), claim responses padded, FLOGI carried in FIP, and malformed
 * lists (zero length, running past the frame, truncation) refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../fabric/fcoe/fip.h"
#include "../../gateway/util.h"

static const struct fip_vn_self self = {
	.enode_mac = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 },
	.wwnn = 0x1000525400123456ull,
	.wwpn = 0x2000525400123456ull,
	.port_id = 0x3456,
	.fcoe_size = 2158,
	.fcp_target = true,
};

static void test_claim_round_trip(void **state)
{
	uint8_t buf[2400];
	struct fip_msg m;
	struct fip_vn_info vn;
	size_t n = fip_build_vn(buf, sizeof(buf), FIP_SC_VN_CLAIM_NOTIFY, fip_all_vn2vn_macs, &self, 0);

	(void)state;
	/* 14 + 10 + (2 + 3 + 5 + 41 + 1) words */
	assert_int_equal(n, 14 + 10 + 52 * 4);
	assert_int_equal(fip_parse(buf, n, &m), 0);
	assert_int_equal(m.op, FIP_OP_VN2VN);
	assert_int_equal(m.subcode, FIP_SC_VN_CLAIM_NOTIFY);
	assert_int_equal(m.n_desc, 5);
	assert_int_equal(fip_vn_parse(&m, &vn), 0);
	assert_memory_equal(vn.enode_mac, self.enode_mac, 6);
	assert_true(vn.wwnn == self.wwnn);
	assert_true(vn.wwpn == self.wwpn);
	assert_int_equal(vn.port_id, 0x3456);
	assert_int_equal(vn.vn_mac[0], 0x0e);
	assert_int_equal(vn.vn_mac[1], 0xfd);
	assert_int_equal(vn.vn_mac[5], 0x56);
	assert_int_equal(vn.fcoe_size, 2158);
	assert_true(vn.fcp_target);
	assert_false(vn.fcp_initiator);
	/* The source is the ENode MAC. */
	assert_memory_equal(buf + 6, self.enode_mac, 6);
}

static void test_claim_response_padded(void **state)
{
	uint8_t buf[2400];
	struct fip_msg m;
	struct fip_vn_info vn;
	size_t n = fip_build_vn(buf, sizeof(buf), FIP_SC_VN_CLAIM_REP, self.enode_mac, &self, 2158);

	(void)state;
	/* FC-BB-6: padded to the Max FCoE Size, as Linux sends 2,172 bytes. */
	assert_int_equal(n, 2172);
	assert_int_equal(fip_parse(buf, n, &m), 0);
	assert_int_equal(fip_vn_parse(&m, &vn), 0);
}

static void test_beacon_from_vn_mac(void **state)
{
	uint8_t buf[256];
	static const uint8_t vn_mac[6] = { 0x0e, 0xfd, 0x00, 0x00, 0x34, 0x56 };
	struct fip_msg m;
	struct fip_vn_info vn;
	size_t n = fip_build_vn(buf, sizeof(buf), FIP_SC_VN_BEACON, fip_all_vn2vn_macs, &self, 0);

	(void)state;
	assert_int_equal(n, 14 + 10 + 40);
	assert_memory_equal(buf + 6, vn_mac, 6);
	assert_int_equal(fip_parse(buf, n, &m), 0);
	assert_int_equal(fip_vn_parse(&m, &vn), 0);
	/* A beacon carrying claim-only descriptors is wrong: rebuild a
	 * claim and relabel it. */
	n = fip_build_vn(buf, sizeof(buf), FIP_SC_VN_CLAIM_NOTIFY, fip_all_vn2vn_macs, &self, 0);
	buf[14 + 5] = FIP_SC_VN_BEACON;
	assert_int_equal(fip_parse(buf, n, &m), 0);
	assert_int_equal(fip_vn_parse(&m, &vn), -1);
}

static void test_vn_descriptor_rules(void **state)
{
	uint8_t buf[2400];
	struct fip_msg m;
	struct fip_vn_info vn;
	size_t n;

	(void)state;
	n = fip_build_vn(buf, sizeof(buf), FIP_SC_VN_PROBE_REQ, fip_all_vn2vn_macs, &self, 0);
	/* Duplicate: the Name descriptor relabelled as a MAC descriptor. */
	buf[14 + 10 + 8] = FIP_DT_MAC;
	assert_int_equal(fip_parse(buf, n, &m), 0);
	assert_int_equal(fip_vn_parse(&m, &vn), -1);
	/* A vendor descriptor (>= 128) is ignored... */
	buf[14 + 10 + 8] = 200;
	assert_int_equal(fip_parse(buf, n, &m), 0);
	assert_int_equal(fip_vn_parse(&m, &vn), -1);   /* ...but Name is now missing */
	buf[14 + 10 + 8] = FIP_DT_NAME;
	/* Multicast ENode MAC. */
	buf[14 + 10 + 2] |= 1;
	assert_int_equal(fip_parse(buf, n, &m), 0);
	assert_int_equal(fip_vn_parse(&m, &vn), -1);
	buf[14 + 10 + 2] &= (uint8_t)~1;
	/* Wrong length of the MAC descriptor (3 words; list length fixed up). */
	buf[14 + 10 + 1] = 3;
	assert_int_equal(fip_parse(buf, n, &m), -1);   /* now runs past the list */
	buf[14 + 10 + 1] = 2;
	/* Unknown subcode. */
	buf[14 + 5] = 9;
	assert_int_equal(fip_parse(buf, n, &m), 0);
	assert_int_equal(fip_vn_parse(&m, &vn), -1);
}

static void test_malformed_lists(void **state)
{
	uint8_t buf[2400];
	struct fip_msg m;
	size_t n = fip_build_vn(buf, sizeof(buf), FIP_SC_VN_CLAIM_NOTIFY, fip_all_vn2vn_macs, &self, 0);

	(void)state;
	for (size_t len = 0; len < n; len++)
		assert_int_equal(fip_parse(buf, len, &m), -1);
	/* A zero-length descriptor would loop forever. */
	buf[14 + 10 + 1] = 0;
	assert_int_equal(fip_parse(buf, n, &m), -1);
	buf[14 + 10 + 1] = 2;
	/* Version 2. */
	buf[14] = 0x20;
	assert_int_equal(fip_parse(buf, n, &m), -1);
	buf[14] = 0x10;
	/* Descriptor list longer than the frame. */
	put_be16(buf + 14 + 6, 0xffff);
	assert_int_equal(fip_parse(buf, n, &m), -1);
}

static void test_flogi_in_fip(void **state)
{
	uint8_t fc[24 + 116], buf[512];
	static const uint8_t vn_mac[6] = { 0x0e, 0xfd, 0x00, 0x00, 0x34, 0x56 };
	static const uint8_t peer[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc };
	struct fip_msg m;
	struct fip_els e;
	size_t n;

	(void)state;
	memset(fc, 0, sizeof(fc));
	fc[0] = FC_RCTL_ELS_REQ;
	fc[24] = ELS_FLOGI;
	n = fip_build_els(buf, sizeof(buf), self.enode_mac, peer, FIP_SC_REQ, FIP_DT_FLOGI, fc,
			  sizeof(fc), vn_mac);
	assert_int_equal(n, 14 + 10 + 4 + sizeof(fc) + 8);
	assert_int_equal(fip_parse(buf, n, &m), 0);
	assert_int_equal(fip_els_parse(&m, &e), 0);
	assert_int_equal(e.dtype, FIP_DT_FLOGI);
	assert_int_equal(e.fc_len, sizeof(fc));
	assert_int_equal(e.fc[24], ELS_FLOGI);
	assert_true(e.has_mac);
	assert_memory_equal(e.mac, vn_mac, 6);
	/* Without a MAC descriptor only an LS_RJT is acceptable. */
	n = fip_build_els(buf, sizeof(buf), self.enode_mac, peer, FIP_SC_REQ, FIP_DT_FLOGI, fc,
			  sizeof(fc), NULL);
	assert_int_equal(fip_parse(buf, n, &m), 0);
	assert_int_equal(fip_els_parse(&m, &e), -1);
	fc[24] = ELS_LS_RJT;
	n = fip_build_els(buf, sizeof(buf), self.enode_mac, peer, FIP_SC_REP, FIP_DT_FLOGI, fc,
			  sizeof(fc), NULL);
	assert_int_equal(fip_parse(buf, n, &m), 0);
	assert_int_equal(fip_els_parse(&m, &e), 0);
	/* The MAC descriptor first: out of order. */
	fc[24] = ELS_FLOGI;
	n = fip_build_els(buf, sizeof(buf), self.enode_mac, peer, FIP_SC_REQ, FIP_DT_FLOGI, fc,
			  sizeof(fc), vn_mac);
	buf[14 + 10] = FIP_DT_MAC;
	assert_int_equal(fip_parse(buf, n, &m), 0);
	assert_int_equal(fip_els_parse(&m, &e), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claim_round_trip),
		cmocka_unit_test(test_claim_response_padded),
		cmocka_unit_test(test_beacon_from_vn_mac),
		cmocka_unit_test(test_vn_descriptor_rules),
		cmocka_unit_test(test_malformed_lists),
		cmocka_unit_test(test_flogi_in_fip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
