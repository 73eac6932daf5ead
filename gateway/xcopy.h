/* EXTENDED COPY (SPC-4 6.4) and RECEIVE COPY RESULTS (SPC-4 6.18): being written. */
