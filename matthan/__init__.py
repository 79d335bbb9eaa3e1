"""matthan (Mắt Thần): the command line and the process supervisor on top of every stage."""
