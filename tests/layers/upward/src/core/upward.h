// check-layers' own test: core including the daemon, which the check must name.
#pragma once
#include "daemon/top.h"
