/* FIP codec (FC-BB-6 7.8): parse with bounds checks, build VN2VN and
 * encapsulated-ELS frames. */
#include "fip.h"

#include <string.h>

#include "../../gateway/util.h"

const uint8_t fip_all_vn2vn_macs[6] = { 0x01, 0x10, 0x18, 0x01, 0x00, 0x04 };
const uint8_t fip_all_p2p_macs[6] = { 0x01, 0x10, 0x18, 0x01, 0x00, 0x05 };

int fip_parse(const uint8_t *frame, size_t len, struct fip_msg *m)
{
	const uint8_t *fip = frame + ETH_HDR_LEN, *d;
	size_t rlen;

	memset(m, 0, sizeof(*m));
	if (len < ETH_HDR_LEN + FIP_HDR_LEN || get_be16(frame + 12) != ETH_P_FIP_FRAME)
		return -1;
	m->dst = frame;
	m->src = frame + 6;
	if (fip[0] >> 4 != FIP_VERSION)
		return -1;
	m->op = get_be16(fip + 2);
	m->subcode = fip[5];
	m->flags = get_be16(fip + 8);
	rlen = (size_t)get_be16(fip + 6) * 4;
	if (rlen > len - ETH_HDR_LEN - FIP_HDR_LEN)
		return -1;     /* the list runs past the frame */
	d = fip + FIP_HDR_LEN;
	while (rlen > 0) {
		size_t dlen;

		if (rlen < 2)
			return -1;
		dlen = (size_t)d[1] * 4;
		if (dlen < 4 || dlen > rlen)
			return -1;
		if (m->n_desc == FIP_MAX_DESC)
			return -1;
		m->desc[m->n_desc].type = d[0];
		m->desc[m->n_desc].len = (uint16_t)dlen;
		m->desc[m->n_desc].p = d;
		m->n_desc++;
		d += dlen;
		rlen -= dlen;
	}
	return 0;
}

static bool mac_unicast_valid(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	return !(mac[0] & 1) && memcmp(mac, zero, 6) != 0;
}

int fip_vn_parse(const struct fip_msg *m, struct fip_vn_info *vn)
{
	uint32_t need, seen = 0;

	memset(vn, 0, sizeof(*vn));
	vn->flags = m->flags;
	switch (m->subcode) {
	case FIP_SC_VN_PROBE_REQ:
	case FIP_SC_VN_PROBE_REP:
	case FIP_SC_VN_BEACON:
		need = 1u << FIP_DT_MAC | 1u << FIP_DT_NAME | 1u << FIP_DT_VN_ID;
		break;
	case FIP_SC_VN_CLAIM_NOTIFY:
	case FIP_SC_VN_CLAIM_REP:
		need = 1u << FIP_DT_MAC | 1u << FIP_DT_NAME | 1u << FIP_DT_VN_ID |
		       1u << FIP_DT_FC4F | 1u << FIP_DT_FCOE_SIZE;
		break;
	default:
		return -1;
	}
	for (unsigned i = 0; i < m->n_desc; i++) {
		const struct fip_desc_ref *d = &m->desc[i];

		if (d->type >= FIP_DT_VENDOR_BASE)
			continue;          /* 7.8.3: ignored */
		if (d->type >= 32 || !(need & 1u << d->type) || seen & 1u << d->type)
			return -1;         /* unexpected or repeated */
		seen |= 1u << d->type;
		switch (d->type) {
		case FIP_DT_MAC:
			if (d->len != FIP_DLEN_MAC * 4)
				return -1;
			memcpy(vn->enode_mac, d->p + 2, 6);
			break;
		case FIP_DT_NAME:
			if (d->len != FIP_DLEN_NAME * 4)
				return -1;
			vn->wwnn = get_be64(d->p + 4);
			break;
		case FIP_DT_VN_ID:
			if (d->len != FIP_DLEN_VN_ID * 4)
				return -1;
			memcpy(vn->vn_mac, d->p + 2, 6);
			vn->port_id = get_be24(d->p + 9);
			vn->wwpn = get_be64(d->p + 12);
			break;
		case FIP_DT_FC4F: {
			uint32_t fcp;

			if (d->len != FIP_DLEN_FC4F * 4)
				return -1;
			/* Features: 4 bits per FC-4 type after the 32-byte
			 * type bitmap; FCP (type 8) is in word 1, bits 3:0. */
			fcp = get_be32(d->p + 4 + 32 + 4);
			vn->fcp_target = fcp & 1;
			vn->fcp_initiator = fcp & 2;
			break;
		}
		case FIP_DT_FCOE_SIZE:
			if (d->len != FIP_DLEN_SIZE * 4)
				return -1;
			vn->fcoe_size = get_be16(d->p + 2);
			break;
		}
	}
	if (seen != need || !mac_unicast_valid(vn->enode_mac))
		return -1;
	return 0;
}

static uint8_t *put_desc(uint8_t *p, uint8_t type, uint8_t words)
{
	memset(p, 0, (size_t)words * 4);
	p[0] = type;
	p[1] = words;
	return p;
}

size_t fip_build_vn(uint8_t *buf, size_t cap, uint8_t sub, const uint8_t dst[6],
		    const struct fip_vn_self *self, size_t min_len)
{
	bool claim = sub == FIP_SC_VN_CLAIM_NOTIFY || sub == FIP_SC_VN_CLAIM_REP;
	size_t dlen = (FIP_DLEN_MAC + FIP_DLEN_NAME + FIP_DLEN_VN_ID) * 4;
	size_t len;
	uint8_t *p;

	if (claim)
		dlen += (FIP_DLEN_FC4F + FIP_DLEN_SIZE) * 4;
	len = ETH_HDR_LEN + FIP_HDR_LEN + dlen;
	if (len < ETH_HDR_LEN + min_len)
		len = ETH_HDR_LEN + min_len;
	if (len < ETH_MIN_FRAME)
		len = ETH_MIN_FRAME;
	if (len > cap)
		return 0;
	memset(buf, 0, len);
	memcpy(buf, dst, 6);
	/* Beacons come from the VN_Port MAC, the rest from the ENode
	 * (FC-BB-6 7.8.7.2). */
	if (sub == FIP_SC_VN_BEACON) {
		put_be24(buf + 6, FCOE_VN2VN_FC_MAP);
		put_be24(buf + 9, self->port_id);
	} else {
		memcpy(buf + 6, self->enode_mac, 6);
	}
	put_be16(buf + 12, ETH_P_FIP_FRAME);
	p = buf + ETH_HDR_LEN;
	p[0] = FIP_VERSION << 4;
	put_be16(p + 2, FIP_OP_VN2VN);
	p[5] = sub;
	put_be16(p + 6, (uint16_t)(dlen / 4));
	p += FIP_HDR_LEN;

	put_desc(p, FIP_DT_MAC, FIP_DLEN_MAC);
	memcpy(p + 2, self->enode_mac, 6);
	p += FIP_DLEN_MAC * 4;
	put_desc(p, FIP_DT_NAME, FIP_DLEN_NAME);
	put_be64(p + 4, self->wwnn);
	p += FIP_DLEN_NAME * 4;
	put_desc(p, FIP_DT_VN_ID, FIP_DLEN_VN_ID);
	put_be24(p + 2, FCOE_VN2VN_FC_MAP);
	put_be24(p + 5, self->port_id);
	put_be24(p + 9, self->port_id);
	put_be64(p + 12, self->wwpn);
	p += FIP_DLEN_VN_ID * 4;
	if (claim) {
		put_desc(p, FIP_DT_FC4F, FIP_DLEN_FC4F);
		/* FC-4 TYPEs bitmap (FC-GS-7 5.2.5.2): FCP is type 8. */
		put_be32(p + 4, 1u << FC_TYPE_FCP);
		put_be32(p + 4 + 32 + 4, (self->fcp_target ? 1u : 0) | (self->fcp_initiator ? 2u : 0));
		p += FIP_DLEN_FC4F * 4;
		put_desc(p, FIP_DT_FCOE_SIZE, FIP_DLEN_SIZE);
		put_be16(p + 2, self->fcoe_size);
	}
	return len;
}

int fip_els_parse(const struct fip_msg *m, struct fip_els *e)
{
	memset(e, 0, sizeof(*e));
	if (m->op != FIP_OP_LS || (m->subcode != FIP_SC_REQ && m->subcode != FIP_SC_REP))
		return -1;
	for (unsigned i = 0; i < m->n_desc; i++) {
		const struct fip_desc_ref *d = &m->desc[i];

		switch (d->type) {
		case FIP_DT_FLOGI:
		case FIP_DT_FDISC:
		case FIP_DT_LOGO:
		case FIP_DT_ELP:
			/* 7.8.6: the encapsulated frame comes first. */
			if (i != 0 || d->len < 4 + FC_HDR_LEN + 4)
				return -1;
			e->dtype = d->type;
			e->fc = d->p + 4;
			e->fc_len = d->len - 4u;
			break;
		case FIP_DT_MAC:
			if (i == 0 || d->len != FIP_DLEN_MAC * 4)
				return -1;
			if (!e->has_mac) {
				memcpy(e->mac, d->p + 2, 6);
				e->has_mac = true;
			}
			break;
		default:
			if (d->type < FIP_DT_VENDOR_BASE)
				return -1;
			break;
		}
	}
	if (!e->fc)
		return -1;
	if (!e->has_mac && e->fc[FC_HDR_LEN] != ELS_LS_RJT)
		return -1;
	return 0;
}

size_t fip_build_els(uint8_t *buf, size_t cap, const uint8_t dst[6], const uint8_t src[6],
		     uint8_t subcode, uint8_t dtype, const uint8_t *fc, size_t fc_len,
		     const uint8_t *mac)
{
	size_t dlen = 4 + fc_len + (mac ? FIP_DLEN_MAC * 4 : 0);
	size_t len = ETH_HDR_LEN + FIP_HDR_LEN + dlen;
	uint8_t *p;

	if (fc_len & 3 || 4 + fc_len > 255 * 4 || len > cap || cap < ETH_MIN_FRAME)
		return 0;
	if (len < ETH_MIN_FRAME) {
		memset(buf + len, 0, ETH_MIN_FRAME - len);
	}
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	put_be16(buf + 12, ETH_P_FIP_FRAME);
	p = buf + ETH_HDR_LEN;
	memset(p, 0, FIP_HDR_LEN);
	p[0] = FIP_VERSION << 4;
	put_be16(p + 2, FIP_OP_LS);
	p[5] = subcode;
	put_be16(p + 6, (uint16_t)(dlen / 4));
	p += FIP_HDR_LEN;
	p[0] = dtype;
	p[1] = (uint8_t)((4 + fc_len) / 4);
	p[2] = p[3] = 0;
	memcpy(p + 4, fc, fc_len);
	p += 4 + fc_len;
	if (mac) {
		put_desc(p, FIP_DT_MAC, FIP_DLEN_MAC);
		memcpy(p + 2, mac, 6);
	}
	return len < ETH_MIN_FRAME ? ETH_MIN_FRAME : len;
}
