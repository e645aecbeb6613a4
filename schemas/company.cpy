      * A multi-segment file (as Cobrix's examples): a company record followed by its
      * contact records; SEGMENT-ID says which.  Load each segment into its own tables:
      *   mfpipe run --input companies.dat --layout schemas/company.cpy
      *     --branch STATIC-DETAILS=segment_id:C --branch CONTACTS=segment_id:P
      *     --segments
       01  COMPANY-DETAILS.
           05  SEGMENT-ID         PIC X(1).
           05  COMPANY-ID         PIC X(6).
           05  STATIC-DETAILS.
               10  COMPANY-NAME   PIC X(10).
               10  TAXPAYER       PIC 9(5).
           05  CONTACTS REDEFINES STATIC-DETAILS.
               10  PHONE-NUMBER   PIC X(8).
               10  CALLS          PIC S9(5) COMP-3.
