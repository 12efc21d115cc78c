// check-layers' own test: the top layer, which anything below may not include.
#pragma once
#include "core/upward.h"
