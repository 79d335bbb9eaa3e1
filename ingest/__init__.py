"""Camera ingest: RTSP readers, decoding at the analysis rate, and the frame hand-off."""
