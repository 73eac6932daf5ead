/* libFuzzer target: the FCoE and FIP codecs (fabric/fcoe/fcoe_frame.c,
 * fip.c) on arbitrary received Ethernet frames. The first byte picks the
 * ethertype so both parsers get reached; everything decoded is read back
 * so that ASan sees any pointer past the frame. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fabric/fcoe/fcoe_frame.h"
#include "fabric/fcoe/fip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *frame;
	struct fcoe_rx rx;
	struct fip_msg m;
	struct fip_vn_info vn;
	struct fip_els e;
	volatile uint32_t sink = 0;

	if (size < 1 || size > 10000)
		return 0;
	/* An exact-size copy: reads past the end are caught. */
	frame = malloc(size - 1 + 14);
	if (!frame)
		return 0;
	memset(frame, 0, 12);
	frame[12] = 0x89;
	frame[13] = data[0] & 1 ? 0x14 : 0x06;
	memcpy(frame + 14, data + 1, size - 1);
	size = size - 1 + 14;
	if (fcoe_frame_parse(frame, size, &rx) == FCOE_OK) {
		for (uint32_t i = 0; i < rx.payload_len; i++)
			sink += rx.payload[i];
		sink += rx.fh.ox_id + rx.sof + rx.eof;
	}
	if (fip_parse(frame, size, &m) == 0) {
		for (unsigned i = 0; i < m.n_desc; i++)
			sink += m.desc[i].p[m.desc[i].len - 1];
		if (m.op == FIP_OP_VN2VN && fip_vn_parse(&m, &vn) == 0)
			sink += vn.port_id;
		if (fip_els_parse(&m, &e) == 0)
			for (size_t i = 0; i < e.fc_len; i++)
				sink += e.fc[i];
	}
	(void)sink;
	free(frame);
	return 0;
}
