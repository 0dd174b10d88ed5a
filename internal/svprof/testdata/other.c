/* other: a program with different symbols, renamed over hot while hot runs. */
int other_main_symbol(void) { return 0; }
int main(void) { return other_main_symbol(); }
