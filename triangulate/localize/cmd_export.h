/* triangulate export: the collector's database to an observations file. */
#ifndef FM_TRIANGULATE_CMD_EXPORT_H
#define FM_TRIANGULATE_CMD_EXPORT_H

int cmd_export(int argc, char **argv);

#endif
