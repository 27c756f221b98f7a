/* triangulate import: an observations file into a store as one window. */
#ifndef FM_TRIANGULATE_CMD_IMPORT_H
#define FM_TRIANGULATE_CMD_IMPORT_H

int cmd_import(int argc, char **argv);

#endif
