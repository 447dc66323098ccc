#define BOOST_TEST_MODULE detect
#include <boost/test/unit_test.hpp>
