#define BOOST_TEST_MODULE probe
#include <boost/test/unit_test.hpp>
