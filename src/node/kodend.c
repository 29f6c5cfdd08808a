/* kodend: see kodend_main.c and docs/operations.md. */
#include "node/node.h"

int
main(int argc, char **argv)
{
	return kodend_main(argc, argv);
}
