#include "xcopy.h"
