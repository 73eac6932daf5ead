/* libFuzzer target: arbitrary bytes arriving on a new iSCSI connection.
 * They go through the PDU reader (with and without digests) and every PDU
 * it assembles goes to the login state machine, as conn.c does, against a
 * target that requires CHAP. Whatever the input, nothing may crash, leak
 * or read out of bounds (run under ASan/UBSan).
 *
 *   make -C BUILD fuzz-login     (clang, see Makefile.am)
 *   BUILD/tests/fuzz/fuzz_login -max_total_time=60 tests/fuzz/corpus-login
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../fabric/iscsi/login.h"
#include "../../fabric/iscsi/pdu.h"
#include "../../gateway/util.h"

static uint16_t fuzz_lookup(void *arg, const char *target_name, const char *initiator_name,
			    struct login_target_info *info)
{
	(void)arg;
	(void)initiator_name;
	memset(info, 0, sizeof(*info));
	info->params.max_recv_data_segment_length = 262144;
	info->params.max_burst_length = 1048576;
	info->params.first_burst_length = 262144;
	info->params.immediate_data = true;
	info->params.max_outstanding_r2t = 1;
	info->params.default_time2wait = 2;
	info->params.default_time2retain = 20;
	info->params.header_digest = true;
	info->params.data_digest = true;
	info->params.queue_depth = 128;
	if (target_name && strcmp(target_name, "iqn.2026-11.org.sangw:fuzz") != 0)
		return 0x0203;   /* not found */
	info->auth_required = true;
	info->chap.set = true;
	str_copy(info->chap.user, "fuzzuser", sizeof(info->chap.user));
	str_copy(info->chap.secret, "fuzz-secret-123", sizeof(info->chap.secret));
	info->mutual_chap.set = true;
	str_copy(info->mutual_chap.user, "target", sizeof(info->mutual_chap.user));
	str_copy(info->mutual_chap.secret, "other-secret-456", sizeof(info->mutual_chap.secret));
	return 0;
}

static uint16_t fuzz_complete(void *arg, struct login_state *ls, uint16_t *tsih)
{
	(void)arg;
	(void)ls;
	*tsih = 1;
	return 0;
}

static void fuzz_random(void *arg, uint8_t *buf, unsigned len)
{
	(void)arg;
	memset(buf, 0x5a, len);   /* deterministic: reproducible crashes */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct login_callbacks cb = {
		.lookup = fuzz_lookup, .complete = fuzz_complete, .random = fuzz_random,
	};
	struct login_state *ls;
	struct pdu_reader r;
	uint32_t stat_sn = 1;

	if (size < 1)
		return 0;
	ls = login_state_create(&cb);
	if (!ls)
		return 0;
	/* The first byte chooses the reader's settings. */
	pdu_reader_init(&r, data[0] & 1 ? 8192 : 512);
	r.header_digest = data[0] & 2;
	r.data_digest = data[0] & 4;
	data++;
	size--;
	while (size) {
		size_t used = 0;
		enum pdu_read_status st = pdu_reader_feed(&r, data, size, &used);
		struct login_response rsp;
		enum login_result res;

		data += used;
		size -= used;
		if (st != PDU_READ_READY && st != PDU_READ_DATA_DIGEST)
			break;
		res = login_process(ls, r.pdu.bhs, r.pdu.data, r.pdu.data_len, stat_sn++, &rsp);
		pdu_reader_next(&r);
		if (res == LOGIN_RESULT_FAILED || res == LOGIN_RESULT_DROP || res == LOGIN_RESULT_COMPLETE)
			break;
		if (used == 0)
			break;
	}
	pdu_reader_free(&r);
	login_state_destroy(ls);
	return 0;
}
