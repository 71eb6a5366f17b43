// Moved: the database layer serves SQLite and PostgreSQL alike (sql.hpp).
#pragma once
#include "hoso/engine/sql.hpp"
