/* Fibre Channel and FCoE wire constants: FC-BB-6 (FCoE, FIP, VN2VN),
 * FC-FS-4 (frame header, R_CTL, F_CTL, SOF/EOF, BLS), FC-LS-3 (ELS) and
 * FCP-4 (FCP information units). Values only: the codecs are in
 * fcoe_frame.c and fip.c. */
#ifndef SANGW_FC_PROTO_H
#define SANGW_FC_PROTO_H

#define ETH_P_FCOE_FRAME   0x8906   /* FC-BB-6 7.3: FCoE */
#define ETH_P_FIP_FRAME    0x8914   /* FC-BB-6 7.8: FIP */
#define ETH_HDR_LEN        14

/* FC-BB-6 7.3: FCoE header (version + reserved + SOF) and trailer (CRC,
 * EOF, reserved) around the FC frame. */
#define FCOE_HDR_LEN       14
#define FCOE_TRL_LEN       8
#define FC_HDR_LEN         24
#define FC_MAX_PAYLOAD     2112     /* FC-FS-4: largest data field */
#define FC_MIN_PAYLOAD     256      /* FC-LS-3: smallest receive data field size */
/* An FCoE frame with the largest FC frame: 14 + 14 + 24 + 2112 + 8. */
#define FCOE_MAX_FRAME     (ETH_HDR_LEN + FCOE_HDR_LEN + FC_HDR_LEN + FC_MAX_PAYLOAD + FCOE_TRL_LEN)
#define ETH_MIN_FRAME      60       /* without FCS */

/* FC-FS-4 table 25/26: start- and end-of-frame delimiters as FC-BB-6
 * encodes them in one byte. Class 3 only. */
#define FC_SOF_F   0x28
#define FC_SOF_I2  0x2d
#define FC_SOF_N2  0x35
#define FC_SOF_I3  0x2e
#define FC_SOF_N3  0x36
#define FC_EOF_N   0x41
#define FC_EOF_T   0x42
#define FC_EOF_NI  0x49
#define FC_EOF_A   0x50

/* FC-FS-4 9.3: R_CTL routing/information categories. */
#define FC_RCTL_DD_UNSOL_CTL   0x02   /* FCP_CMND */
#define FC_RCTL_DD_SOL_CTL     0x03
#define FC_RCTL_DD_SOL_DATA    0x01   /* FCP_DATA */
#define FC_RCTL_DD_DATA_DESC   0x05   /* FCP_XFER_RDY */
#define FC_RCTL_DD_UNSOL_CMD   0x06
#define FC_RCTL_DD_CMD_STATUS  0x07   /* FCP_RSP */
#define FC_RCTL_ELS_REQ        0x22
#define FC_RCTL_ELS_REP        0x23
#define FC_RCTL_BA_NOP         0x80
#define FC_RCTL_BA_ABTS        0x81
#define FC_RCTL_BA_RMC         0x82
#define FC_RCTL_BA_ACC         0x84
#define FC_RCTL_BA_RJT         0x85

/* FC-FS-4 9.6: TYPE. */
#define FC_TYPE_BLS    0x00
#define FC_TYPE_ELS    0x01
#define FC_TYPE_FCP    0x08
#define FC_TYPE_CT     0x20

/* FC-FS-4 9.8 table 37: F_CTL bits. */
#define FC_FC_EX_CTX     0x800000   /* frame from the exchange responder */
#define FC_FC_SEQ_CTX    0x400000   /* frame from the sequence recipient */
#define FC_FC_FIRST_SEQ  0x200000
#define FC_FC_LAST_SEQ   0x100000
#define FC_FC_END_SEQ    0x080000
#define FC_FC_END_CONN   0x040000
#define FC_FC_SEQ_INIT   0x010000   /* transfer sequence initiative */
#define FC_FC_REL_OFF    0x000008   /* parameter field = relative offset */
#define FC_FC_FILL_MASK  0x000003   /* fill bytes at the end of the payload */

#define FC_XID_UNKNOWN   0xffff

/* Well-known address (FC-FS-4 table 40) FLOGI is sent to. */
#define FC_FID_FLOGI     0xfffffe

/* FC-LS-3 4.2: ELS command codes (first payload byte). */
#define ELS_LS_RJT   0x01
#define ELS_LS_ACC   0x02
#define ELS_PLOGI    0x03
#define ELS_FLOGI    0x04
#define ELS_LOGO     0x05
#define ELS_ABTX     0x06
#define ELS_RLS      0x0f
#define ELS_ECHO     0x10
#define ELS_RRQ      0x12
#define ELS_REC      0x13
#define ELS_PRLI     0x20
#define ELS_PRLO     0x21
#define ELS_ADISC    0x52
#define ELS_RTV      0x0e
#define ELS_PDISC    0x50

/* FC-LS-3 table 139/140: LS_RJT reason codes and explanations. */
#define ELS_RJT_INVAL    0x01   /* invalid ELS command code */
#define ELS_RJT_LOGIC    0x03   /* logical error */
#define ELS_RJT_BUSY     0x05   /* logical busy */
#define ELS_RJT_PROT     0x07   /* protocol error */
#define ELS_RJT_UNAB     0x09   /* unable to perform command request */
#define ELS_RJT_UNSUP    0x0b   /* command not supported */
#define ELS_RJT_INPROG   0x0e   /* command already in progress */
#define ELS_EXPL_NONE        0x00
#define ELS_EXPL_SPP_OPT_ERR 0x01
#define ELS_EXPL_INV_LEN     0x2d
#define ELS_EXPL_NOT_NEIGHBOR 0x62
#define ELS_EXPL_PLOGI_REQD  0x1e
#define ELS_EXPL_INSUF_RES   0x29
#define ELS_EXPL_OXID_RXID   0x17   /* invalid OX_ID-RX_ID combination */

/* FC-LS-3 6.3 (common service parameters) */
#define FC_SP_FT_CIRO    0x8000   /* continuously increasing relative offset */
#define FC_SP_FT_CLAD    0x8000
#define FC_SP_FT_RAND    0x4000   /* random relative offset */
#define FC_SP_FT_NPIV    0x2000
#define FC_SP_FT_FPORT   0x1000   /* F_Port (fabric) */
#define FC_SP_FT_EDTR    0x0400   /* E_D_TOV resolution: ns */
#define FC_SP_FT_MNA     0x0200   /* multiple N_Port_ID assignment */
#define FC_CPC_VALID     0x8000   /* class service parameters: class valid */
#define FC_CPC_SEQ       0x0800   /* sequential delivery */

/* FC-LS-3 4.2.21 / FCP-4 6.3: PRLI service parameter page. */
#define FC_SPP_OPA_VAL        0x80   /* originator process associator valid */
#define FC_SPP_RPA_VAL        0x40
#define FC_SPP_EST_IMG_PAIR   0x20   /* establish image pair */
#define FC_SPP_RESP_MASK      0x0f
#define FC_SPP_RESP_ACK       0x01   /* request executed */
#define FC_SPP_RESP_RES       0x02   /* no resources */
#define FC_SPP_RESP_INIT      0x03   /* initialisation not complete */
#define FC_SPP_RESP_NO_PA     0x04   /* target process associator invalid */
#define FC_SPP_RESP_CONF      0x05   /* configuring: preconditions not met */
#define FC_SPP_RESP_COND      0x06   /* executed with conditions */
#define FC_SPP_RESP_MULT      0x07   /* multiple pages not supported */
#define FC_SPP_RESP_INVL      0x08   /* service parameters invalid */

/* FCP-4 table 7: FCP service parameters (word 3 of the PRLI page). */
#define FCP_SPPF_TASK_RETRY_ID 0x0200
#define FCP_SPPF_RETRY        0x0100
#define FCP_SPPF_CONF_COMPL   0x0080
#define FCP_SPPF_OVLY_ALLOW   0x0040   /* data overlay allowed */
#define FCP_SPPF_INIT_FCN     0x0020   /* initiator function */
#define FCP_SPPF_TARG_FCN     0x0010   /* target function */
#define FCP_SPPF_RD_XRDY_DIS  0x0002   /* read FCP_XFER_RDY disabled */
#define FCP_SPPF_WR_XRDY_DIS  0x0001   /* write FCP_XFER_RDY disabled (first burst) */

/* FCP-4 9.2: FCP_CMND IU. */
#define FCP_CMND_LEN          32       /* with a 16-byte CDB */
#define FCP_CMND_RDDATA       0x02
#define FCP_CMND_WRDATA       0x01
#define FCP_TMF_CLR_ACA       0x40
#define FCP_TMF_TGT_RESET     0x20
#define FCP_TMF_LUN_RESET     0x10
#define FCP_TMF_CLR_TASK_SET  0x04
#define FCP_TMF_ABT_TASK_SET  0x02
#define FCP_PTA_SIMPLE        0
#define FCP_PTA_HEADQ         1
#define FCP_PTA_ORDERED       2
#define FCP_PTA_ACA           4
#define FCP_PTA_MASK          7

/* FCP-4 9.5: FCP_RSP IU. */
#define FCP_RSP_LEN           24       /* up to and including FCP_RSP_LEN */
#define FCP_RSP_LEN_VAL       0x01
#define FCP_SNS_LEN_VAL       0x02
#define FCP_RESID_OVER        0x04
#define FCP_RESID_UNDER       0x08
#define FCP_CONF_REQ          0x10
#define FCP_TMF_CMPL          0x00     /* FCP-4 table 25: RSP_CODE */
#define FCP_DATA_LEN_INVALID  0x01
#define FCP_CMND_FIELDS_INVALID 0x02
#define FCP_DATA_PARAM_MISMATCH 0x03
#define FCP_TMF_REJECTED      0x04
#define FCP_TMF_FAILED        0x05
#define FCP_TMF_INVALID_LUN   0x09

/* FCP-4 9.3: FCP_XFER_RDY IU. */
#define FCP_XFER_RDY_LEN      12

/* FC-BB-6 7.8: FIP. */
#define FIP_VERSION           1
#define FIP_HDR_LEN           10
#define FIP_OP_DISC           1
#define FIP_OP_LS             2
#define FIP_OP_CTRL           3
#define FIP_OP_VLAN           4
#define FIP_OP_VN2VN          5
#define FIP_SC_REQ            1        /* FIP_OP_LS */
#define FIP_SC_REP            2
#define FIP_SC_VN_PROBE_REQ   1        /* FIP_OP_VN2VN (FC-BB-6 7.8.7) */
#define FIP_SC_VN_PROBE_REP   2
#define FIP_SC_VN_CLAIM_NOTIFY 3
#define FIP_SC_VN_CLAIM_REP   4
#define FIP_SC_VN_BEACON      5
#define FIP_FL_FPMA           0x8000
#define FIP_FL_SPMA           0x4000
#define FIP_FL_REC_OR_P2P     0x0008   /* VN2VN: address recorded / P2P */
#define FIP_FL_AVAIL          0x0004
#define FIP_FL_SOL            0x0002
#define FIP_FL_FPORT          0x0001

/* FC-BB-6 table 49: descriptor types (length in 32-bit words). */
#define FIP_DT_PRI        1
#define FIP_DT_MAC        2    /* 2 words */
#define FIP_DT_MAP_OUI    3
#define FIP_DT_NAME       4    /* 3 words */
#define FIP_DT_FAB        5
#define FIP_DT_FCOE_SIZE  6    /* 1 word */
#define FIP_DT_FLOGI      7
#define FIP_DT_FDISC      8
#define FIP_DT_LOGO       9
#define FIP_DT_ELP        10
#define FIP_DT_VN_ID      11   /* 5 words */
#define FIP_DT_FKA        12
#define FIP_DT_VENDOR     13
#define FIP_DT_VLAN       14
#define FIP_DT_FC4F       15   /* 41 words: FC-4 type bitmap + features */
#define FIP_DT_VENDOR_BASE 128 /* 7.8.3: unknown descriptors >= 128 are ignored */

#define FIP_DLEN_MAC      2
#define FIP_DLEN_NAME     3
#define FIP_DLEN_SIZE     1
#define FIP_DLEN_VN_ID    5
#define FIP_DLEN_FC4F     41

/* FC-BB-6 7.8.7.1: VN2VN MAC addresses and the FC-MAP of VN2VN. */
#define FCOE_VN2VN_FC_MAP 0x0efd00
#define FIP_VN_PROBE_WAIT_MS   100
#define FIP_VN_ANN_WAIT_MS     400
#define FIP_VN_BEACON_INT_MS   8000
#define FIP_VN_BEACON_FUZZ_MS  100
#define FIP_VN_RLIM_INT_MS     10000
#define FIP_VN_RLIM_COUNT      10

#endif
