"""matthan (Mắt Thần): the command line and the process supervisor on top of every stage,
the supervisor's watch on the detection core (``analysis_watch``) and the demo (``demo``,
``farm``: the clip library served as RTSP cameras)."""
