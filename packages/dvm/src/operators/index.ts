/**
 * Registers every operator's rules (importing a module registers its kind). Adding an operator =
 * one module plus one line here.
 */
import './constant.js';
import './filter.js';
import './join.js';
import './project.js';
import './scan.js';
import './union-all.js';
