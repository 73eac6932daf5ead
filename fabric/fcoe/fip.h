/* FIP, the FCoE Initialization Protocol (FC-BB-6 7.8): the header and
 * descriptor list of a received frame with every length checked, the
 * VN2VN messages (7.8.7: probe, claim, beacon) and ELS frames carried in
 * FIP (FLOGI between VN2VN peers). Pure code (tests/unit/test_fcoe_fip.c). */
#ifndef SANGW_FIP_H
#define SANGW_FIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fc_proto.h"

#define FIP_MAX_DESC 32

struct fip_desc_ref {
	uint8_t type;
	uint16_t len;                   /* bytes, header included */
	const uint8_t *p;               /* the descriptor, type byte first */
};

struct fip_msg {
	const uint8_t *dst, *src;       /* Ethernet addresses */
	uint16_t op;
	uint8_t subcode;
	uint16_t flags;
	unsigned n_desc;
	struct fip_desc_ref desc[FIP_MAX_DESC];
};

/* Parse a FIP frame (Ethernet header first). Returns 0, or -1 when the
 * version, the descriptor list length or a descriptor length is wrong
 * (7.8.3: a descriptor of length 0 or running past the list). */
int fip_parse(const uint8_t *frame, size_t len, struct fip_msg *m);

/* What a VN2VN message tells about the VN_Port that sent it. */
struct fip_vn_info {
	uint8_t enode_mac[6];           /* MAC address descriptor */
	uint64_t wwnn;                  /* Name_Identifier descriptor */
	uint8_t vn_mac[6];              /* VN_Port ID descriptor */
	uint32_t port_id;
	uint64_t wwpn;
	uint16_t fcoe_size;             /* Max FCoE Size (claims only) */
	uint16_t flags;                 /* FIP header flags */
	bool fcp_target, fcp_initiator; /* FC-4 features (claims only) */
};

/* Decode a VN2VN message: the descriptors its subcode requires (MAC,
 * Name, VN_Port ID; claims also FC-4 features and Max FCoE Size), each
 * once, of its exact length; a unicast ENode MAC. Returns 0 or -1. */
int fip_vn_parse(const struct fip_msg *m, struct fip_vn_info *vn);

/* The sender's own view, for building VN2VN messages. */
struct fip_vn_self {
	uint8_t enode_mac[6];
	uint64_t wwnn, wwpn;
	uint32_t port_id;
	uint16_t fcoe_size;             /* FCoE PDU size we accept (no Ethernet header) */
	bool fcp_target, fcp_initiator;
};

/* Build a VN2VN message of subcode sub to dst; min_len pads the frame
 * (without the Ethernet header) as FC-BB-6 asks of Claim Responses.
 * Returns the frame length or 0 when cap is too small. */
size_t fip_build_vn(uint8_t *buf, size_t cap, uint8_t sub, const uint8_t dst[6],
		    const struct fip_vn_self *self, size_t min_len);

/* An ELS carried in FIP (7.8.6: FLOGI/LOGO request and reply). */
struct fip_els {
	uint8_t dtype;                  /* FIP_DT_FLOGI, FIP_DT_LOGO, ... */
	const uint8_t *fc;              /* FC header then ELS payload */
	size_t fc_len;
	bool has_mac;
	uint8_t mac[6];                 /* the first MAC address descriptor */
};

/* Decode a FIP_OP_LS message: the encapsulated frame is the first
 * descriptor, a MAC address descriptor follows (except on LS_RJT).
 * Returns 0 or -1. */
int fip_els_parse(const struct fip_msg *m, struct fip_els *e);

/* Build a FIP_OP_LS frame carrying fc (FC header + ELS, fc_len a
 * multiple of 4) in a dtype descriptor, with a MAC descriptor when mac is
 * not NULL. Returns the frame length or 0. */
size_t fip_build_els(uint8_t *buf, size_t cap, const uint8_t dst[6], const uint8_t src[6],
		     uint8_t subcode, uint8_t dtype, const uint8_t *fc, size_t fc_len,
		     const uint8_t *mac);

/* The multicast groups of VN2VN (FC-BB-6 table 47). */
extern const uint8_t fip_all_vn2vn_macs[6];
extern const uint8_t fip_all_p2p_macs[6];

#endif
