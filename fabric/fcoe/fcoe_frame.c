/* FCoE frame codec (FC-BB-6 7.3, FC-FS-4 9). */
#include "fcoe_frame.h"

#include <pthread.h>
#include <string.h>

#ifdef HAVE_ISAL
#include <isa-l/crc.h>
#endif

#include "../../gateway/util.h"

/* Reflected CRC-32, polynomial 0x04C11DB7 (FC-FS-4 5.4, as Ethernet),
 * eight bytes a step ("slicing by 8"): every byte of read data passes
 * through here once. With ISA-L (libisal) its crc32_gzip_refl computes
 * the same CRC (pre- and post-inverted, as FC's) by carry-less
 * multiplication, about ten times faster on a full frame. */
static uint32_t crc_table[8][256];

static void crc_table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

uint32_t fc_crc32(const void *data, size_t len)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const uint8_t *p = data;
	uint32_t c = 0xffffffffu;

#ifdef HAVE_ISAL
	if (len >= 64)
		return crc32_gzip_refl(0, data, len);
#endif
	pthread_once(&once, crc_table_init);
	while (len >= 8) {
		uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
				   (uint32_t)p[3] << 24);

		c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		    crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		    crc_table[3][p[4]] ^ crc_table[2][p[5]] ^ crc_table[1][p[6]] ^ crc_table[0][p[7]];
		p += 8;
		len -= 8;
	}
	while (len--)
		c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

void fc_hdr_decode(const uint8_t *p, struct fc_hdr *h)
{
	h->r_ctl = p[0];
	h->d_id = get_be24(p + 1);
	h->cs_ctl = p[4];
	h->s_id = get_be24(p + 5);
	h->type = p[8];
	h->f_ctl = get_be24(p + 9);
	h->seq_id = p[12];
	h->df_ctl = p[13];
	h->seq_cnt = get_be16(p + 14);
	h->ox_id = get_be16(p + 16);
	h->rx_id = get_be16(p + 18);
	h->param = get_be32(p + 20);
}

void fc_hdr_encode(uint8_t *p, const struct fc_hdr *h)
{
	p[0] = h->r_ctl;
	put_be24(p + 1, h->d_id);
	p[4] = h->cs_ctl;
	put_be24(p + 5, h->s_id);
	p[8] = h->type;
	put_be24(p + 9, h->f_ctl);
	p[12] = h->seq_id;
	p[13] = h->df_ctl;
	put_be16(p + 14, h->seq_cnt);
	put_be16(p + 16, h->ox_id);
	put_be16(p + 18, h->rx_id);
	put_be32(p + 20, h->param);
}

static int sof_valid(uint8_t sof)
{
	return sof == FC_SOF_F || sof == FC_SOF_I2 || sof == FC_SOF_N2 || sof == FC_SOF_I3 ||
	       sof == FC_SOF_N3;
}

static int eof_valid(uint8_t eof)
{
	return eof == FC_EOF_N || eof == FC_EOF_T || eof == FC_EOF_NI || eof == FC_EOF_A;
}

int fcoe_frame_parse(const uint8_t *frame, size_t len, struct fcoe_rx *rx)
{
	const uint8_t *fc, *trl;
	size_t fc_len;
	uint32_t crc, fill;

	if (len < ETH_HDR_LEN + FCOE_HDR_LEN + FC_HDR_LEN + FCOE_TRL_LEN)
		return FCOE_ERR_SHORT;
	if (get_be16(frame + 12) != ETH_P_FCOE_FRAME)
		return FCOE_ERR_ETHERTYPE;
	rx->dst = frame;
	rx->src = frame + 6;
	if (frame[ETH_HDR_LEN] >> 4 != 0)   /* FC-BB-6 7.3: version 0 */
		return FCOE_ERR_VERSION;
	rx->sof = frame[ETH_HDR_LEN + FCOE_HDR_LEN - 1];
	fc = frame + ETH_HDR_LEN + FCOE_HDR_LEN;
	/* The smallest FCoE frame (no payload) is exactly the 60-byte
	 * Ethernet minimum, so the trailer always ends the frame. */
	fc_len = len - ETH_HDR_LEN - FCOE_HDR_LEN - FCOE_TRL_LEN;
	if (fc_len & 3 || fc_len > FC_HDR_LEN + FC_MAX_PAYLOAD)
		return FCOE_ERR_SHORT;
	trl = fc + fc_len;
	if (!sof_valid(rx->sof) || !eof_valid(trl[4]))
		return FCOE_ERR_DELIM;
	crc = (uint32_t)trl[0] | (uint32_t)trl[1] << 8 | (uint32_t)trl[2] << 16 |
	      (uint32_t)trl[3] << 24;
	if (crc != fc_crc32(fc, fc_len))
		return FCOE_ERR_CRC;
	rx->eof = trl[4];
	fc_hdr_decode(fc, &rx->fh);
	rx->payload = fc + FC_HDR_LEN;
	rx->payload_len = (uint32_t)(fc_len - FC_HDR_LEN);
	fill = rx->fh.f_ctl & FC_FC_FILL_MASK;
	if (rx->fh.f_ctl & FC_FC_END_SEQ && fill <= rx->payload_len)
		rx->payload_len -= fill;
	return FCOE_OK;
}

size_t fcoe_frame_build(uint8_t *buf, size_t cap, const uint8_t dst[6], const uint8_t src[6],
			uint8_t sof, uint8_t eof, const struct fc_hdr *h, const void *payload,
			size_t len)
{
	size_t fill = (4 - (len & 3)) & 3;
	size_t fc_len = FC_HDR_LEN + len + fill;
	size_t total = ETH_HDR_LEN + FCOE_HDR_LEN + fc_len + FCOE_TRL_LEN;
	struct fc_hdr hdr = *h;
	uint8_t *fc, *trl;
	uint32_t crc;

	if (fill && !(h->f_ctl & FC_FC_END_SEQ))
		return 0;     /* FC-FS-4 9.8: fill only on a sequence's last frame */
	if (len > FC_MAX_PAYLOAD || total > cap || ETH_MIN_FRAME > cap)
		return 0;
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	put_be16(buf + 12, ETH_P_FCOE_FRAME);
	memset(buf + ETH_HDR_LEN, 0, FCOE_HDR_LEN - 1);   /* version 0, reserved */
	buf[ETH_HDR_LEN + FCOE_HDR_LEN - 1] = sof;
	fc = buf + ETH_HDR_LEN + FCOE_HDR_LEN;
	hdr.f_ctl = (hdr.f_ctl & ~(uint32_t)FC_FC_FILL_MASK) | (uint32_t)fill;
	fc_hdr_encode(fc, &hdr);
	if (len)
		memcpy(fc + FC_HDR_LEN, payload, len);
	memset(fc + FC_HDR_LEN + len, 0, fill);
	crc = fc_crc32(fc, fc_len);
	trl = fc + fc_len;
	trl[0] = (uint8_t)crc;
	trl[1] = (uint8_t)(crc >> 8);
	trl[2] = (uint8_t)(crc >> 16);
	trl[3] = (uint8_t)(crc >> 24);
	trl[4] = eof;
	memset(trl + 5, 0, 3);
	if (total < ETH_MIN_FRAME) {
		memset(buf + total, 0, ETH_MIN_FRAME - total);
		total = ETH_MIN_FRAME;
	}
	return total;
}

void fcoe_vn_mac(uint8_t mac[6], uint32_t fc_map, uint32_t fc_id)
{
	put_be24(mac, fc_map);
	put_be24(mac + 3, fc_id);
}
