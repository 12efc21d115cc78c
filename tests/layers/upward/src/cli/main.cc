// check-layers' own test: a front end including the pool, which it may not.
#include "pool/provider_pool.h"
