/* triangulate watch's entry point, for the command table in cmd.c. */
#ifndef FM_TRIANGULATE_CMD_WATCH_H
#define FM_TRIANGULATE_CMD_WATCH_H

int cmd_watch(int argc, char **argv);

#endif
