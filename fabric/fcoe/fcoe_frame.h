/* FCoE frames (FC-BB-6 7.3) and the FC frame header (FC-FS-4 9): parse a
 * received Ethernet frame into its parts with every length checked, and
 * build one. Pure code, no I/O (unit-tested in tests/unit/test_fcoe_frame.c). */
#ifndef SANGW_FCOE_FRAME_H
#define SANGW_FCOE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "fc_proto.h"

/* FC-FS-4 9.1: the 24-byte frame header, decoded. */
struct fc_hdr {
	uint8_t r_ctl;
	uint32_t d_id;
	uint8_t cs_ctl;
	uint32_t s_id;
	uint8_t type;
	uint32_t f_ctl;
	uint8_t seq_id;
	uint8_t df_ctl;
	uint16_t seq_cnt;
	uint16_t ox_id;
	uint16_t rx_id;
	uint32_t param;
};

void fc_hdr_decode(const uint8_t *p, struct fc_hdr *h);
void fc_hdr_encode(uint8_t *p, const struct fc_hdr *h);

/* A received FCoE frame: pointers into the caller's buffer. */
struct fcoe_rx {
	const uint8_t *dst, *src;      /* Ethernet addresses */
	uint8_t sof, eof;
	struct fc_hdr fh;
	const uint8_t *payload;        /* after the FC header */
	uint32_t payload_len;          /* fill bytes (F_CTL) removed */
};

enum fcoe_parse_error {
	FCOE_OK = 0,
	FCOE_ERR_SHORT = -1,           /* shorter than headers + trailer */
	FCOE_ERR_VERSION = -2,         /* FCoE version not 0 */
	FCOE_ERR_DELIM = -3,           /* unknown SOF or EOF */
	FCOE_ERR_CRC = -4,             /* FC CRC mismatch */
	FCOE_ERR_ETHERTYPE = -5,
};

/* The IEEE 802.3 CRC-32 FC-FS-4 5.4 uses over header and payload. */
uint32_t fc_crc32(const void *data, size_t len);

/* Parse frame[0..len) (Ethernet header first; Ethernet padding after the
 * trailer allowed). Returns FCOE_OK or a negative enum fcoe_parse_error. */
int fcoe_frame_parse(const uint8_t *frame, size_t len, struct fcoe_rx *rx);

/* Build an FCoE frame into buf (cap bytes): Ethernet header, FCoE header,
 * FC header h, payload (len bytes), fill to 4 when F_CTL has END_SEQ (the
 * fill count goes into F_CTL), CRC, EOF, padding to 60 bytes. Returns the
 * frame length, 0 when it does not fit or an unpadded non-final frame
 * was asked for. */
size_t fcoe_frame_build(uint8_t *buf, size_t cap, const uint8_t dst[6], const uint8_t src[6],
			uint8_t sof, uint8_t eof, const struct fc_hdr *h, const void *payload,
			size_t len);

/* FC-BB-6 7.6: the VN_Port MAC of an FC_ID under an FC-MAP. */
void fcoe_vn_mac(uint8_t mac[6], uint32_t fc_map, uint32_t fc_id);

#endif
