#define BOOST_TEST_MODULE flowgen
#include <boost/test/unit_test.hpp>
